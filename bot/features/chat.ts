import { Composer, type Filter, type MiddlewareFn } from 'grammy';
import type { ChatReply } from '../services/chat';
import { isRouterError } from '../../providers';
import { type BotContext, conversationIdOf } from '../context';
import {
  DraftPreview,
  describeFailure,
  EditPreview,
  finishEditedMessage,
  keepTyping,
  sendMarkdown,
  sendPlain,
} from '../reply';

type TextContext = Filter<BotContext, 'message:text'>;

/**
 * Chat: in private chats every text message is a turn; in groups the bot answers when mentioned
 * or replied to. The answer comes through the provider pool with the conversation's history,
 * streamed as a live preview when STREAM_REPLIES is on.
 */
export function chatFeature(costGate: MiddlewareFn<BotContext>): Composer<BotContext> {
  const feature = new Composer<BotContext>();
  // One plain check rather than chained `on`/`filter` calls, which build a Composer per update.
  feature.use(async (ctx, next) => {
    if (!ctx.has('message:text') || ctx.msg.text.startsWith('/')) return next();
    if (ctx.chat.type !== 'private' && !isAddressedToBot(ctx)) return next();
    const question = questionText(ctx);
    const max = ctx.deps.config.maxMessageChars;
    if (question === '') {
      await ctx.reply(ctx.t.emptyMessage);
      return;
    }
    if (question.length > max) {
      await ctx.reply(ctx.t.tooLong(question.length, max));
      return;
    }
    await costGate(ctx, () => answer(ctx));
  });
  return feature;
}

async function answer(ctx: TextContext): Promise<void> {
  const conversationId = conversationIdOf(ctx);
  if (conversationId === undefined) return;
  const question = questionText(ctx);
  const stopTyping = keepTyping(ctx);
  const preview = ctx.deps.config.streamReplies
    ? ctx.chat.type === 'private'
      ? new DraftPreview(ctx)
      : new EditPreview(ctx)
    : undefined;
  try {
    const reply =
      preview !== undefined
        ? await streamAnswer(ctx, conversationId, question, stopTyping, preview)
        : await ctx.deps.services.chat.sendMessageWithHistory(conversationId, question, exchangeOf(ctx));
    if (preview === undefined) {
      stopTyping();
      await sendMarkdown(ctx, reply.text);
    }
    await noteHistory(ctx, conversationId, reply);
    ctx.log.info(
      {
        provider: reply.provider,
        key: reply.maskedKey,
        latencyMs: Math.round(reply.latencyMs),
        fallbacks: reply.failedAttempts.length,
      },
      'answered',
    );
  } catch (error) {
    ctx.log.warn({ err: error }, 'no answer');
    // A group preview of an answer that broke off would stay behind, half-written: it becomes the notice.
    const halfWritten = preview instanceof EditPreview && isRouterError(error) ? preview.messageId : undefined;
    await tellFailure(ctx, describeFailure(ctx.t, error), halfWritten);
  } finally {
    stopTyping();
  }
}

/** Streams the answer into a live preview, then sends (or edits in) the final rendered message. */
async function streamAnswer(
  ctx: TextContext,
  conversationId: string,
  question: string,
  stopTyping: () => void,
  preview: DraftPreview | EditPreview,
): Promise<ChatReply> {
  let text = '';
  let reply: ChatReply | undefined;
  try {
    for await (const event of ctx.deps.services.chat.streamMessageWithHistory(
      conversationId,
      question,
      exchangeOf(ctx),
    )) {
      if (event.type === 'text-delta') {
        text += event.text;
        stopTyping();
        preview.update(text);
      } else if (event.type === 'stored') {
        reply = event.reply;
      }
    }
  } finally {
    await preview.stop();
  }
  if (reply === undefined) throw new Error('the stream ended without an answer');
  if (preview instanceof EditPreview && preview.messageId !== undefined) {
    await finishEditedMessage(ctx, preview.messageId, reply.text);
  } else {
    await sendMarkdown(ctx, reply.text);
  }
  return reply;
}

/** Sends the failure notice, or puts it in place of the message `replacing` when there is one. */
async function tellFailure(ctx: TextContext, notice: string, replacing: number | undefined): Promise<void> {
  if (replacing !== undefined) {
    try {
      await ctx.api.editMessageText(ctx.chat.id, replacing, notice);
      return;
    } catch (error) {
      ctx.log.debug({ err: error }, 'could not replace the preview; sending the notice apart');
    }
  }
  await sendPlain(ctx, notice);
}

/** Tells a conversation once per outage that history is unavailable; forgets that when it is back. */
async function noteHistory(ctx: BotContext, conversationId: string, reply: ChatReply): Promise<void> {
  const notified = ctx.deps.historyNotified;
  if (reply.historyAvailable) {
    notified.clear();
    return;
  }
  if (notified.has(conversationId)) return;
  notified.add(conversationId);
  await ctx.reply(ctx.t.historyUnavailable);
}

/** The update being answered: handled again after a crash, it adds no second copy to history. */
function exchangeOf(ctx: BotContext): { exchangeId: string } {
  return { exchangeId: `update:${ctx.update.update_id}` };
}

/** In groups: a mention of the bot (`@name`) or a reply to one of its messages. */
function isAddressedToBot(ctx: TextContext): boolean {
  const me = ctx.me;
  if (ctx.msg.reply_to_message?.from?.id === me.id) return true;
  const mention = `@${me.username}`.toLowerCase();
  return (ctx.msg.entities ?? []).some(
    (entity) =>
      entity.type === 'mention' &&
      ctx.msg.text.slice(entity.offset, entity.offset + entity.length).toLowerCase() === mention,
  );
}

/** The message without the bot's @mention. */
function questionText(ctx: TextContext): string {
  const mention = new RegExp(`@${ctx.me.username}\\b`, 'gi');
  return (ctx.joinedText ?? ctx.msg.text).replace(mention, '').trim();
}
