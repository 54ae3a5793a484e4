import { Composer, type MiddlewareFn } from 'grammy';
import type { Message } from 'grammy/types';
import type { MediaKind, MediaPart } from '../../providers';
import { type BotContext, conversationIdOf } from '../context';
import { describeFailure, keepTyping, sendMarkdown, sendPlain } from '../reply';
import { imageTurn } from '../services/media';
import { DownloadError, downloadFile } from './media-download';

/** Image types the vision models take (PNG, JPEG, WebP; docs/providers.md). */
const IMAGE_TYPES = new Set(['image/jpeg', 'image/png', 'image/webp']);

/** What a message carries that the bot can read, found before anything is downloaded. */
interface Incoming {
  readonly kind: MediaKind;
  readonly fileId: string;
  readonly fileSize: number | undefined;
  readonly mimeType: string;
  readonly fileName: string | undefined;
  readonly caption: string;
}

/**
 * Media: photos and image documents, with or without a caption, answered by a vision model with
 * the conversation's history. In private chats every such message is a turn; in groups only one
 * whose caption mentions the bot or that replies to the bot. A file the bot cannot read gets one
 * short message; nothing is stored then. Limits apply as to text (the cost gate).
 */
export function mediaFeature(costGate: MiddlewareFn<BotContext>): Composer<BotContext> {
  const feature = new Composer<BotContext>();
  feature.use(async (ctx, next) => {
    const message = ctx.message;
    if (message === undefined || ctx.chat === undefined) return next();
    const incoming = incomingOf(message);
    if (incoming === undefined) return next();
    if (ctx.chat.type !== 'private' && !isAddressedToBot(ctx, message)) return next();
    if (incoming === 'unsupported') {
      await ctx.reply(ctx.t.media.unsupported);
      return;
    }
    await costGate(ctx, () => answerImage(ctx, incoming));
  });
  return feature;
}

/** Whether the update is a message with a photo or a file (the media feature's cheap pre-check). */
export function hasMedia(ctx: BotContext): boolean {
  const message = ctx.message;
  return message !== undefined && (message.photo !== undefined || message.document !== undefined);
}

/** The readable media of a message, `unsupported` for a file the bot cannot read, else undefined. */
function incomingOf(message: Message): Incoming | 'unsupported' | undefined {
  const caption = message.caption ?? '';
  const largest = message.photo?.at(-1);
  if (largest !== undefined) {
    return {
      kind: 'image',
      fileId: largest.file_id,
      fileSize: largest.file_size,
      // Telegram re-encodes photos as JPEG.
      mimeType: 'image/jpeg',
      fileName: undefined,
      caption,
    };
  }
  const document = message.document;
  if (document !== undefined) {
    const mimeType = document.mime_type ?? '';
    if (!IMAGE_TYPES.has(mimeType)) return 'unsupported';
    return {
      kind: 'image',
      fileId: document.file_id,
      fileSize: document.file_size,
      mimeType,
      fileName: document.file_name,
      caption,
    };
  }
  return undefined;
}

async function answerImage(ctx: BotContext, incoming: Incoming): Promise<void> {
  const conversationId = conversationIdOf(ctx);
  if (conversationId === undefined) return;
  const services = ctx.deps.services;
  if (!services.media.seesImages) {
    await ctx.reply(ctx.t.errors.noCapability);
    return;
  }
  const stopTyping = keepTyping(ctx);
  try {
    const part = await fetchPart(ctx, incoming);
    if (part === undefined) return;
    const turn = imageTurn(part, {
      kind: 'image',
      fileId: incoming.fileId,
      ...(incoming.caption === '' ? {} : { caption: withoutMention(ctx, incoming.caption) }),
    });
    const reply = await services.chat.sendTurnWithHistory(conversationId, turn, {
      exchangeId: `update:${ctx.update.update_id}`,
    });
    stopTyping();
    await sendMarkdown(ctx, reply.text);
    ctx.log.info(
      {
        provider: reply.provider,
        model: reply.model,
        key: reply.maskedKey,
        latencyMs: Math.round(reply.latencyMs),
        fallbacks: reply.failedAttempts.length,
        media: incoming.kind,
      },
      'answered',
    );
  } catch (error) {
    ctx.log.warn({ err: error, media: incoming.kind }, 'no answer');
    await sendPlain(ctx, describeFailure(ctx.t, error));
  } finally {
    stopTyping();
  }
}

/** The file as a media part, or `undefined` once the user was told why it could not be fetched. */
async function fetchPart(ctx: BotContext, incoming: Incoming): Promise<MediaPart | undefined> {
  try {
    const data = await downloadFile(ctx, incoming.fileId, incoming.fileSize);
    return {
      kind: incoming.kind,
      mimeType: incoming.mimeType,
      data,
      ...(incoming.fileName === undefined ? {} : { fileName: incoming.fileName }),
    };
  } catch (error) {
    if (!(error instanceof DownloadError)) throw error;
    ctx.log.warn({ reason: error.reason, err: error.message, bytes: error.sizeBytes }, 'file not downloaded');
    await ctx.reply(
      error.reason === 'too_large'
        ? ctx.t.media.tooLarge(Math.ceil((error.sizeBytes ?? 0) / (1024 * 1024)) || 21)
        : ctx.t.media.downloadFailed,
    );
    return undefined;
  }
}

/** In groups: a caption that mentions the bot, or a reply to one of its messages. */
function isAddressedToBot(ctx: BotContext, message: Message): boolean {
  if (message.reply_to_message?.from?.id === ctx.me.id) return true;
  const caption = message.caption ?? '';
  const mention = `@${ctx.me.username}`.toLowerCase();
  return (message.caption_entities ?? []).some(
    (entity) =>
      entity.type === 'mention' &&
      caption.slice(entity.offset, entity.offset + entity.length).toLowerCase() === mention,
  );
}

function withoutMention(ctx: BotContext, caption: string): string {
  return caption.replace(new RegExp(`@${ctx.me.username}\\b`, 'gi'), '').trim();
}
