import { Composer } from 'grammy';
import { isStorageUnavailable } from '../../storage';
import { type BotContext, conversationIdOf } from '../context';

/**
 * `/new`: starts a new conversation. A short one is forgotten at once; a long one (many turns the
 * user may want to keep) asks first, with two buttons that only the user who asked can press.
 * Every button press is answered (Telegram shows a spinner until it is); a press on an old or
 * unknown button, a second press of the same button, or someone else's press changes nothing.
 */
const CONFIRM_FROM_MESSAGES = 6;
/** How long a confirmation's buttons stay usable, and its "already answered" mark lasts. */
const BUTTONS_LAST_MS = 24 * 3_600_000;
const BUTTON = /^new:(yes|no):(\d+)$/;

export function newConversationFeature(): Composer<BotContext> {
  const feature = new Composer<BotContext>();
  feature.command('new', async (ctx) => {
    const conversationId = conversationIdOf(ctx);
    if (conversationId === undefined || ctx.from === undefined) return;
    const { chat } = ctx.deps.services;
    try {
      const length = await chat.conversationLength(conversationId);
      if (length < CONFIRM_FROM_MESSAGES) {
        await chat.resetConversation(conversationId);
        await ctx.reply(ctx.t.newConversation.started);
        return;
      }
      await ctx.reply(ctx.t.newConversation.confirm(length), {
        reply_markup: {
          inline_keyboard: [
            [
              { text: ctx.t.newConversation.yes, callback_data: `new:yes:${ctx.from.id}` },
              { text: ctx.t.newConversation.no, callback_data: `new:no:${ctx.from.id}` },
            ],
          ],
        },
      });
    } catch (error) {
      if (!isStorageUnavailable(error)) throw error;
      await ctx.reply(ctx.t.resetFailed);
    }
  });

  feature.on('callback_query', async (ctx, next) => {
    const data = ctx.callbackQuery.data ?? '';
    // Other features' buttons go on; an unknown one is answered at the end of the line (unsupported.ts).
    if (!data.startsWith('new:')) return next();
    const match = BUTTON.exec(data);
    const message = ctx.callbackQuery.message;
    if (match === null || message === undefined || ctx.deps.now() - message.date * 1000 > BUTTONS_LAST_MS) {
      await ctx.answerCallbackQuery({ text: ctx.t.buttons.expired });
      return;
    }
    if (String(ctx.from.id) !== match[2]) {
      await ctx.answerCallbackQuery({ text: ctx.t.buttons.notYours });
      return;
    }
    // Once per confirmation, whichever process gets the press (two quick presses arrive as two).
    const now = ctx.deps.now();
    const { count } = await ctx.deps.services.stores.counters.increment(
      `button:${message.chat.id}:${message.message_id}`,
      BUTTONS_LAST_MS,
      now,
    );
    if (count > 1) {
      await ctx.answerCallbackQuery({ text: ctx.t.buttons.alreadyDone });
      return;
    }
    const conversationId = conversationIdOf(ctx);
    if (match[1] === 'yes' && conversationId !== undefined) {
      try {
        await ctx.deps.services.chat.resetConversation(conversationId);
      } catch (error) {
        if (!isStorageUnavailable(error)) throw error;
        await ctx.answerCallbackQuery({ text: ctx.t.resetFailed });
        return;
      }
      await ctx.editMessageText(ctx.t.newConversation.started);
    } else {
      await ctx.editMessageText(ctx.t.newConversation.kept);
    }
    await ctx.answerCallbackQuery();
  });
  return feature;
}
