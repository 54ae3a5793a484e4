import { Composer } from 'grammy';
import type { BotContext } from '../context';

/**
 * Everything else. In private chats: media gets a short "text only" notice and an unknown command
 * points to /help. Edited messages, channel posts and group chatter are ignored by design (the
 * bot answers new messages addressed to it). A press of a button no feature knows is answered
 * with a short notice.
 */
export function unsupportedFeature(): Composer<BotContext> {
  const feature = new Composer<BotContext>();
  // A button no feature knows (an old one, or made-up data): answered, so the spinner ends, and nothing changes.
  feature.on('callback_query', (ctx) => ctx.answerCallbackQuery({ text: ctx.t.buttons.expired }));
  const privateChat = feature.chatType('private');
  privateChat.on('message:text', async (ctx) => {
    if (ctx.msg.text.startsWith('/')) await ctx.reply(ctx.t.unknownCommand);
  });
  privateChat.on(
    [
      'message:sticker',
      'message:photo',
      'message:voice',
      'message:video',
      'message:video_note',
      'message:document',
      'message:audio',
      'message:animation',
      'message:location',
      'message:contact',
      'message:poll',
    ],
    (ctx) => ctx.reply(ctx.t.onlyText),
  );
  return feature;
}
