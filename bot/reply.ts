import { GrammyError } from 'grammy';
import type { InlineKeyboardMarkup, ReplyParameters } from 'grammy/types';
import { isRouterError } from '../providers';
import type { BotContext } from './context';
import { floodWaitMs } from './delivery';
import type { Messages } from './locales';
import { renderForTelegram, splitPlainText, TELEGRAM_MESSAGE_LIMIT } from './render';
import { isPdfTextError } from './services/pdf-text';

/**
 * Sending answers: Markdown rendered to Telegram HTML and split under 4096 characters, each part
 * resent as plain text if Telegram refuses its entities, and live previews of streamed answers
 * that respect Telegram's flood limits.
 */

/** Telegram's answer to HTML it cannot parse. */
function isEntityError(error: unknown): boolean {
  return error instanceof GrammyError && error.error_code === 400 && /can't parse entities/i.test(error.description);
}

function isNotModified(error: unknown): boolean {
  return error instanceof GrammyError && error.error_code === 400 && /message is not modified/i.test(error.description);
}

function replyTo(ctx: BotContext): { reply_parameters?: ReplyParameters } {
  // In groups, answer the message that asked, so the thread stays readable.
  if (ctx.chat?.type === 'private' || ctx.msg?.message_id === undefined) return {};
  return { reply_parameters: { message_id: ctx.msg.message_id, allow_sending_without_reply: true } };
}

/** Sends plain text, split under the limit. Returns the ids of the messages sent. */
export async function sendPlain(ctx: BotContext, text: string): Promise<number[]> {
  const ids: number[] = [];
  for (const [index, part] of splitPlainText(text).entries()) {
    const sent = await ctx.reply(part, index === 0 ? replyTo(ctx) : {});
    ids.push(sent.message_id);
  }
  return ids;
}

/**
 * Sends a model's Markdown answer as HTML messages; a part Telegram refuses is resent as plain text.
 * `markup` (the buttons under an answer) goes under the last message. Returns the last message's id.
 */
export async function sendMarkdown(
  ctx: BotContext,
  markdown: string,
  markup?: InlineKeyboardMarkup,
): Promise<number | undefined> {
  const { html, plain } = renderForTelegram(markdown);
  const buttons = markup === undefined ? {} : { reply_markup: markup };
  if (html.length === 0) return (await ctx.reply('…', { ...replyTo(ctx), ...buttons })).message_id;
  let last: number | undefined;
  // The parts not sent yet: a flood wait that stops this midway resumes from the part it stopped at.
  let next = 0;
  const sendRest = async (): Promise<void> => {
    for (; next < html.length; next++) {
      const part = html[next]!;
      last = await sendHtmlOrPlain(ctx, part, plain[next] ?? part, {
        ...(next === 0 ? replyTo(ctx) : {}),
        ...(next === html.length - 1 ? buttons : {}),
      });
    }
  };
  const chatId = ctx.chat?.id;
  const { deliveries } = ctx.deps;
  // An earlier answer to this chat waits out a flood wait: this one goes behind it, in order.
  if (chatId !== undefined && deliveries.isWaiting(chatId) && deliveries.schedule(chatId, 0, sendRest)) {
    ctx.log.warn('answer queued behind one waiting out a Telegram flood wait');
    return undefined;
  }
  try {
    await sendRest();
  } catch (error) {
    // A flood wait longer than the retries take: sent when it ends (bounded, bot/delivery.ts).
    const waitMs = floodWaitMs(error);
    if (chatId === undefined || waitMs === undefined || !deliveries.schedule(chatId, waitMs, sendRest)) throw error;
    ctx.log.warn({ waitMs, partsLeft: html.length - next }, 'Telegram flood wait: the answer is sent when it ends');
  }
  return last;
}

type SendExtra = { reply_parameters?: ReplyParameters; reply_markup?: InlineKeyboardMarkup };

/** Returns the id of the (last) message sent. */
async function sendHtmlOrPlain(ctx: BotContext, html: string, plain: string, extra: SendExtra): Promise<number> {
  try {
    return (await ctx.reply(html, { parse_mode: 'HTML', link_preview_options: { is_disabled: true }, ...extra }))
      .message_id;
  } catch (error) {
    if (!isEntityError(error)) throw error;
    ctx.log.warn({ err: error }, 'Telegram refused the rendered HTML; sent as plain text');
    const pieces = splitPlainText(plain);
    let last = 0;
    for (const [index, piece] of pieces.entries()) {
      const { reply_markup, ...rest } = extra;
      last = (await ctx.reply(piece, index === pieces.length - 1 ? extra : rest)).message_id;
    }
    return last;
  }
}

/**
 * Replaces a message's text with the rendered answer (groups, after streaming), sending what does
 * not fit. `markup` goes under the last message (an edit without it removes the preview's buttons).
 */
export async function finishEditedMessage(
  ctx: BotContext,
  messageId: number,
  markdown: string,
  markup?: InlineKeyboardMarkup,
): Promise<void> {
  const chatId = ctx.chat?.id;
  if (chatId === undefined) return;
  const { html, plain } = renderForTelegram(markdown);
  const [first = '…', ...rest] = html;
  const buttons = markup === undefined || rest.length > 0 ? {} : { reply_markup: markup };
  try {
    await ctx.api.editMessageText(chatId, messageId, first, {
      parse_mode: 'HTML',
      link_preview_options: { is_disabled: true },
      ...buttons,
    });
  } catch (error) {
    if (isNotModified(error)) {
      // The preview already shows exactly this text.
    } else if (isEntityError(error)) {
      await ctx.api.editMessageText(chatId, messageId, plain[0] ?? first, buttons).catch((retryError: unknown) => {
        if (!isNotModified(retryError)) throw retryError;
      });
    } else {
      throw error;
    }
  }
  for (const [index, part] of rest.entries()) {
    await sendHtmlOrPlain(
      ctx,
      part,
      plain[index + 1] ?? part,
      index === rest.length - 1 && markup !== undefined ? { reply_markup: markup } : {},
    );
  }
}

/** The short message a user sees when the pool could not answer: what happened and what to do. */
export function describeFailure(t: Messages, error: unknown): string {
  if (isPdfTextError(error)) {
    switch (error.reason) {
      case 'no_text':
        return t.media.pdfNoText;
      case 'encrypted':
        return t.media.pdfEncrypted;
      case 'unreadable':
        return t.media.pdfUnreadable;
      case 'too_complex':
        return t.media.pdfTooComplex;
    }
  }
  if (!isRouterError(error)) return t.errors.generic;
  switch (error.kind) {
    case 'no_capacity':
      return t.errors.noCapacity(
        error.retryAfterMs === undefined ? undefined : Math.max(1, Math.ceil(error.retryAfterMs / 60_000)),
      );
    case 'unavailable':
      return t.errors.unavailable;
    case 'context_too_long':
      return t.errors.contextTooLong;
    case 'content_filtered':
      return t.errors.contentFiltered;
    case 'deadline':
      return t.errors.deadline;
    case 'interrupted':
      return t.errors.interrupted;
    case 'no_providers':
      return t.errors.noProviders;
    case 'no_capability':
      return t.errors.noCapability;
    case 'cancelled':
      return t.errors.generic;
  }
}

/**
 * Shows "typing…" (Telegram shows it for about 5 s per call), from TYPING_DELAY_MS on, until the returned function is
 * called; calling it again does nothing. A plain function rather than an AbortController: abort()
 * builds a DOMException with a stack trace each time, and streaming stops typing on every delta.
 */
export function keepTyping(ctx: BotContext): () => void {
  const chatId = ctx.chat?.id;
  if (chatId === undefined) return () => undefined;
  const send = (): void => {
    ctx.api.sendChatAction(chatId, 'typing').catch((error: unknown) => ctx.log.debug({ err: error }, 'typing failed'));
  };
  // A quick answer needs no "typing…": it would only cost a Telegram call per message.
  let repeat: NodeJS.Timeout | undefined;
  const first = setTimeout(() => {
    send();
    repeat = setInterval(send, 4500);
  }, TYPING_DELAY_MS);
  return () => {
    clearTimeout(first);
    if (repeat !== undefined) clearInterval(repeat);
  };
}

/** How long an answer may take before "typing…" is shown. */
const TYPING_DELAY_MS = 300;

/**
 * A live preview of a streamed answer. Updates are coalesced: at most one Telegram call per
 * `intervalMs` per chat (Telegram allows about one message a second per chat), always showing the
 * latest text, and never two calls in flight.
 */
export abstract class StreamPreview {
  private latest = '';
  private shown = '';
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> = Promise.resolve();
  private lastSentAt = 0;
  private stopped = false;

  protected constructor(
    protected readonly ctx: BotContext,
    private readonly intervalMs: number,
  ) {}

  /** The answer so far. */
  update(text: string): void {
    if (this.stopped) return;
    this.latest = text;
    if (this.timer !== undefined) return;
    const wait = Math.max(0, this.lastSentAt + this.intervalMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, wait);
  }

  /** Stops previews and waits for the one in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    await this.inFlight;
  }

  private flush(): void {
    const text = previewText(this.latest);
    if (this.stopped || text === this.shown || text.trim() === '') return;
    this.shown = text;
    this.lastSentAt = Date.now();
    this.inFlight = this.inFlight
      .then(() => this.show(text))
      .catch((error: unknown) => {
        if (!isNotModified(error)) this.ctx.log.debug({ err: error }, 'preview update failed');
      });
  }

  protected abstract show(text: string): Promise<void>;
}

/** Private chats: `sendMessageDraft`, a temporary preview replaced by the final `sendMessage`. */
export class DraftPreview extends StreamPreview {
  private readonly draftId = 1 + Math.floor(Math.random() * 2_000_000_000);

  constructor(ctx: BotContext, intervalMs = 1000) {
    super(ctx, intervalMs);
  }

  protected async show(text: string): Promise<void> {
    const chatId = this.ctx.chat?.id;
    if (chatId === undefined) return;
    await this.ctx.api.sendMessageDraft(chatId, this.draftId, text);
  }
}

/**
 * Groups: one message, edited as the answer grows, finished by `finishEditedMessage`. `markup`
 * (a Stop button) stays under it while it grows.
 */
export class EditPreview extends StreamPreview {
  messageId: number | undefined;

  constructor(
    ctx: BotContext,
    intervalMs = 3000,
    private readonly markup?: InlineKeyboardMarkup,
  ) {
    super(ctx, intervalMs);
  }

  protected async show(text: string): Promise<void> {
    const chatId = this.ctx.chat?.id;
    if (chatId === undefined) return;
    const buttons = this.markup === undefined ? {} : { reply_markup: this.markup };
    if (this.messageId === undefined) {
      const sent = await this.ctx.reply(text, { ...replyTo(this.ctx), ...buttons });
      this.messageId = sent.message_id;
    } else {
      await this.ctx.api.editMessageText(chatId, this.messageId, text, buttons);
    }
  }
}

/** Previews are plain text (half-written Markdown is not valid HTML) and end with a cursor. */
function previewText(text: string): string {
  const limit = TELEGRAM_MESSAGE_LIMIT - 2;
  if (text.length <= limit) return `${text} ▍`;
  let start = text.length - limit + 1;
  // Never start inside a surrogate pair: a lone half is not valid text.
  const code = text.charCodeAt(start);
  if (code >= 0xdc00 && code <= 0xdfff) start += 1;
  return `…${text.slice(start)} ▍`;
}
