import { Composer, type Filter, GrammyError, type MiddlewareFn } from 'grammy';
import type { InlineKeyboardMarkup } from 'grammy/types';
import { isRouterError } from '../../providers';
import { isStorageUnavailable } from '../../storage';
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
import { type ChatReply, type ExchangeOptions, isStaleAnswer, type Turn } from '../services/chat';
import { answerButtonsFor, parseAnswerButton, stopMarkup } from './answer-buttons';
import { mediaRecaller, mediaResender } from './media';

type TextContext = Filter<BotContext, 'message:text'>;

/**
 * In a private chat, how long an answer streams before a Stop button is offered under it. The
 * preview there is a draft, which carries no buttons, so Stop comes as a message of its own,
 * removed when the answer ends: quick answers, done before anyone could press it, go without.
 */
const STOP_BUTTON_AFTER_MS = 2_000;

/**
 * Chat: in private chats every text message is a turn; in groups the bot answers when mentioned
 * or replied to. The answer comes through the provider pool with the conversation's history and
 * the asking user's settings (style or custom instructions, model preference, streaming), streamed
 * as a live preview when streaming is on. Under each answer: Regenerate, Continue when it stopped
 * at the length limit, and Stop while it streams (`./answer-buttons.ts`).
 */
export function chatFeature(costGate: MiddlewareFn<BotContext>): Composer<BotContext> {
  const feature = new Composer<BotContext>();
  // One plain check rather than chained `on`/`filter` calls, which build a Composer per update.
  feature.use(async (ctx, next) => {
    if (ctx.callbackQuery !== undefined) {
      if (!(ctx.callbackQuery.data ?? '').startsWith('ans:')) return next();
      await pressAnswerButton(ctx, costGate);
      return;
    }
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
    await costGate(ctx, () => answer(ctx, { type: 'message', text: question }));
  });
  return feature;
}

/**
 * A button under an answer. Stop ends the stream in this process (it costs nothing); Regenerate
 * and Continue check, before anything is charged, that the answer is still the conversation's
 * last, then count against the user's limits like a message. A press of someone else's button,
 * of an old one or of one pressed already is answered with a short notice and changes nothing.
 */
async function pressAnswerButton(ctx: BotContext, costGate: MiddlewareFn<BotContext>): Promise<void> {
  const query = ctx.callbackQuery;
  if (query === undefined) return;
  const button = parseAnswerButton(query.data ?? '');
  const message = query.message;
  if (button === undefined || message === undefined) {
    await notice(ctx, ctx.t.buttons.expired);
    return;
  }
  if (String(query.from.id) !== button.userId) {
    await notice(ctx, ctx.t.buttons.notYours);
    return;
  }
  if (button.action === 'stop') {
    // The answer may stream in another process sharing Redis: the relay asks them all.
    const stopped = await ctx.deps.services.stops.stop(`${message.chat.id}:${button.streamId}`, query.from.id);
    if (!stopped) {
      await notice(ctx, ctx.t.answerButtons.finished);
      return;
    }
    ctx.log.info('answer stopped by the user');
    await notice(ctx, ctx.t.answerButtons.stopped);
    return;
  }
  const conversationId = conversationIdOf(ctx);
  if (conversationId === undefined) return;
  let latest: string | undefined;
  try {
    latest = await ctx.deps.services.chat.lastAnswerTag(conversationId);
  } catch (error) {
    if (!isStorageUnavailable(error)) throw error;
    await notice(ctx, ctx.t.answerButtons.unavailable);
    return;
  }
  if (latest !== button.answerTag) {
    await notice(ctx, ctx.t.answerButtons.old);
    return;
  }
  let charged = false;
  await costGate(ctx, async () => {
    charged = true;
    await notice(ctx, ctx.t.answerButtons.working);
    const previous = button.action === 'regenerate' ? button.provider : undefined;
    const avoid = previous === undefined ? undefined : ctx.deps.config.providers.order[previous];
    await answer(ctx, { type: button.action, answerTag: button.answerTag }, avoid === undefined ? [] : [avoid]);
  });
  if (!charged) await notice(ctx, ctx.t.answerButtons.limited);
}

/** Answers a button press (ends its spinner) with a short text; a press Telegram forgot is let go. */
async function notice(ctx: BotContext, text: string): Promise<void> {
  try {
    await ctx.answerCallbackQuery({ text });
  } catch (error) {
    if (!(error instanceof GrammyError && error.error_code === 400)) throw error;
    ctx.log.debug({ err: error }, 'button press could not be answered');
  }
}

async function answer(ctx: BotContext, turn: Turn, avoid: readonly string[] = []): Promise<void> {
  const conversationId = conversationIdOf(ctx);
  if (conversationId === undefined || ctx.chat === undefined) return;
  const { services, config } = ctx.deps;
  const prefer = services.settings.preferenceFor(ctx.settings);
  const options: ExchangeOptions = {
    // A text turn right after a photo or PDF is sent with that file again (a question about "the picture").
    ...(turn.type === 'message' ? { ...exchangeOf(ctx), recall: mediaRecaller(ctx) } : {}),
    // A regenerated answer is asked as the question was: with its photo or PDF fetched again.
    ...(turn.type === 'regenerate' ? { recall: mediaRecaller(ctx), resend: mediaResender(ctx) } : {}),
    systemPrompt: services.settings.systemPromptFor(ctx.settings),
    ...(prefer === undefined ? {} : { prefer }),
    ...(avoid.length === 0 ? {} : { avoid }),
  };
  const stopTyping = keepTyping(ctx);
  const streaming = ctx.settings.streaming ?? config.streamReplies;
  // Stop buttons name the stream by the update it answers.
  const streamId = String(ctx.update.update_id);
  const stop = stopMarkup(ctx.t, ctx.from?.id ?? 0, streamId);
  const preview = streaming
    ? ctx.chat.type === 'private'
      ? new DraftPreview(ctx)
      : new EditPreview(ctx, 3000, stop)
    : undefined;
  try {
    let reply: ChatReply;
    if (preview !== undefined) {
      reply = await streamAnswer(ctx, conversationId, turn, options, stopTyping, preview, { streamId, stop });
    } else {
      reply = await services.chat.send(conversationId, turn, options);
      stopTyping();
      await sendMarkdown(ctx, reply.text, answerButtonsFor(ctx, reply));
    }
    await noteHistory(ctx, conversationId, reply);
    ctx.log.info(
      {
        provider: reply.provider,
        key: reply.maskedKey,
        latencyMs: Math.round(reply.latencyMs),
        fallbacks: reply.failedAttempts.length,
        ...(turn.type === 'message' ? {} : { turn: turn.type }),
        ...(reply.cutOff ? { cutOff: true } : {}),
      },
      'answered',
    );
  } catch (error) {
    if (isStaleAnswer(error)) {
      // The conversation moved on between the press and now: nothing was asked, nothing changes.
      await sendPlain(ctx, ctx.t.answerButtons.old);
      return;
    }
    if (isStorageUnavailable(error)) {
      await sendPlain(ctx, ctx.t.answerButtons.unavailable);
      return;
    }
    ctx.log.warn({ err: error }, 'no answer');
    // A group preview of an answer that broke off would stay behind, half-written: it becomes the notice.
    const halfWritten = preview instanceof EditPreview && isRouterError(error) ? preview.messageId : undefined;
    await tellFailure(ctx, describeFailure(ctx.t, error), halfWritten);
  } finally {
    stopTyping();
  }
}

/**
 * Streams the answer into a live preview, then sends (or edits in) the final rendered message.
 * While it streams, a Stop button (on the group preview, or a message of its own in a private
 * chat) can end it: what arrived is then the answer, marked as stopped.
 */
async function streamAnswer(
  ctx: BotContext,
  conversationId: string,
  turn: Turn,
  options: ExchangeOptions,
  stopTyping: () => void,
  preview: DraftPreview | EditPreview,
  { streamId, stop }: { streamId: string; stop: InlineKeyboardMarkup },
): Promise<ChatReply> {
  const chat = ctx.chat!;
  const key = `${chat.id}:${streamId}`;
  const controller = new AbortController();
  const unregister = ctx.deps.services.stops.register(key, { userId: ctx.from?.id ?? 0, controller });
  let stopMessage: Promise<number | undefined> | undefined;
  let stopTimer: NodeJS.Timeout | undefined;
  let text = '';
  let reply: ChatReply | undefined;
  try {
    for await (const event of ctx.deps.services.chat.stream(conversationId, turn, {
      ...options,
      stop: controller.signal,
    })) {
      if (event.type === 'text-delta') {
        text += event.text;
        stopTyping();
        preview.update(text);
        if (preview instanceof DraftPreview && stopTimer === undefined) {
          stopTimer = setTimeout(() => {
            stopMessage = ctx
              .reply(ctx.t.answerButtons.writing, { reply_markup: stop })
              .then((sent) => sent.message_id)
              .catch((error: unknown) => {
                ctx.log.debug({ err: error }, 'could not offer a Stop button');
                return undefined;
              });
          }, STOP_BUTTON_AFTER_MS);
        }
      } else if (event.type === 'stored') {
        reply = event.reply;
      }
    }
  } finally {
    clearTimeout(stopTimer);
    unregister();
    await preview.stop();
    const stopMessageId = await stopMessage;
    if (stopMessageId !== undefined) {
      await ctx.api
        .deleteMessage(chat.id, stopMessageId)
        .catch((error: unknown) => ctx.log.debug({ err: error }, 'could not remove the Stop button'));
    }
  }
  if (reply === undefined) throw new Error('the stream ended without an answer');
  const shown = reply.cutOff ? `${reply.text.trimEnd()}\n\n${ctx.t.answerButtons.stoppedNote}`.trimStart() : reply.text;
  const markup = answerButtonsFor(ctx, reply);
  if (preview instanceof EditPreview && preview.messageId !== undefined) {
    await finishEditedMessage(ctx, preview.messageId, shown, markup);
  } else {
    await sendMarkdown(ctx, shown, markup);
  }
  return reply;
}

/** Sends the failure notice, or puts it in place of the message `replacing` when there is one. */
async function tellFailure(ctx: BotContext, notice: string, replacing: number | undefined): Promise<void> {
  const chatId = ctx.chat?.id;
  if (replacing !== undefined && chatId !== undefined) {
    try {
      await ctx.api.editMessageText(chatId, replacing, notice);
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
