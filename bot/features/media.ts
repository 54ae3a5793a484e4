import { Composer, type MiddlewareFn } from 'grammy';
import type { Message } from 'grammy/types';
import type { ChatMessage, MediaKind, MediaPart, MediaReference } from '../../providers';
import { type BotContext, conversationIdOf } from '../context';
import { describeFailure, keepTyping, sendMarkdown, sendPlain } from '../reply';
import type { ChatReply, SentTurn } from '../services/chat';
import {
  decodeText,
  imageTurn,
  type MediaTurn,
  pdfPageCount,
  pdfTextTurn,
  pdfTurn,
  textFileTurn,
} from '../services/media';
import { extractPdfText, isPdfTextError } from '../services/pdf-text';
import { isRouterError } from '../../providers';
import { answerButtonsFor } from './answer-buttons';
import { type MediaReservation, reserveMedia } from './limits';
import {
  DownloadError,
  downloadFile,
  downloadOrTell,
  imageRecaller,
  imageTypeOf,
  MAX_DOWNLOAD_BYTES,
} from './media-download';

/** Image types the vision models take (PNG, JPEG, WebP; docs/providers.md). */
const IMAGE_TYPES = new Set(['image/jpeg', 'image/png', 'image/webp']);

/** Text-like files read as text: by type, or by name when Telegram says only `application/octet-stream`. */
const TEXT_TYPES = new Set([
  'application/json',
  'application/xml',
  'application/x-yaml',
  'application/yaml',
  'application/javascript',
  'application/x-javascript',
  'application/typescript',
  'application/x-sh',
  'application/sql',
  'application/toml',
  'application/x-python',
]);
const TEXT_EXTENSIONS = new Set(
  (
    'txt md markdown csv tsv json jsonl yaml yml xml html htm css js mjs cjs ts tsx jsx py rb go rs java kt ' +
    'swift c h cc cpp hpp cs php sh bash zsh sql toml ini cfg conf log tex rst srt vtt env lua r pl scala dart'
  ).split(' '),
);

/** The largest text file downloaded (a text file this size is far past the character cap anyway). */
const TEXT_FILE_MAX_BYTES = 512 * 1024;
/** The longest text file answered, in characters (about 10,000 tokens). */
const TEXT_FILE_MAX_CHARS = 40_000;
/**
 * The largest PDF sent inline: a request is capped at 20 MB and base64 adds a third
 * (docs/providers.md), so 14 MB of PDF leaves room for the conversation. A larger one is read as
 * text (its text layer, extracted), like a PDF for a pool without a model that takes PDFs.
 */
const PDF_MAX_BYTES = 14 * 1024 * 1024;
/** The most PDF pages sent inline (each is 258 tokens as an image; docs/providers.md); more: read as text. */
const PDF_MAX_PAGES = 100;

/**
 * Video containers the transcription endpoints of the pool take, so a video's sound is transcribed
 * like a voice note (docs/providers.md, video notes). Video notes are always MP4.
 */
const SOUND_CONTAINERS = new Map([
  ['video/mp4', 'mp4'],
  ['video/mpeg', 'mpeg'],
  ['video/webm', 'webm'],
]);

/** The longest transcript quoted back to the user above the answer (the rest is cut with an ellipsis). */
const QUOTED_TRANSCRIPT_CHARS = 400;

/** What a message carries that the bot can read, found before anything is downloaded. */
export interface Incoming {
  /** `text`: a text-like file, read as text and sent to any chat model. */
  readonly kind: MediaKind | 'text';
  readonly fileId: string;
  readonly fileSize: number | undefined;
  readonly mimeType: string;
  readonly fileName: string | undefined;
  readonly caption: string;
  /** Seconds, for audio. */
  readonly durationSeconds?: number;
}

/** Something sent to a model as a media part (not read as text). */
type MediaIncoming = Incoming & { readonly kind: MediaKind };

/**
 * Media: photos and image documents, with or without a caption, answered by a vision model with
 * the conversation's history; voice notes, audio files, video notes and videos (their sound),
 * transcribed through the pool and then
 * answered as a chat turn, with a short quote of what was heard. In private chats every such message is a turn; in groups only one
 * whose caption mentions the bot or that replies to the bot. A file the bot cannot read gets one
 * short message; nothing is stored then. Limits apply as to text (the cost gate), and each file
 * reserves one media request (and a recording its seconds of audio) from the user's daily media
 * budgets (`reserveMedia`), given back when nothing was sent to a provider.
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
      await sendPlain(ctx, ctx.t.media.unsupported);
      return;
    }
    if (incoming === 'unsupported_video') {
      await sendPlain(ctx, ctx.t.media.videoFormat);
      return;
    }
    await costGate(ctx, () => {
      switch (incoming.kind) {
        case 'audio':
          return answerVoice(ctx, { ...incoming, kind: incoming.kind });
        case 'image':
          return answerImage(ctx, { ...incoming, kind: incoming.kind });
        case 'pdf':
          return answerPdf(ctx, { ...incoming, kind: incoming.kind });
        case 'text':
          return answerTextFile(ctx, incoming);
      }
    });
  });
  return feature;
}

/** Whether the update is a message with a photo or a file (the media feature's cheap pre-check). */
export function hasMedia(ctx: BotContext): boolean {
  const message = ctx.message;
  return (
    message !== undefined &&
    (message.photo !== undefined ||
      message.document !== undefined ||
      message.voice !== undefined ||
      message.audio !== undefined ||
      message.video_note !== undefined ||
      message.video !== undefined)
  );
}

/**
 * The readable media of a message, `unsupported` for a file the bot cannot read (and
 * `unsupported_video` for a video in a container no transcription endpoint takes), else undefined.
 * What chat answers, `/translate` reads in a replied-to message (its sound or image).
 */
export function incomingOf(message: Message): Incoming | 'unsupported' | 'unsupported_video' | undefined {
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
  const audio = message.voice ?? message.audio;
  if (audio !== undefined) {
    return {
      kind: 'audio',
      fileId: audio.file_id,
      fileSize: audio.file_size,
      // Voice notes are OGG/Opus.
      mimeType: audio.mime_type ?? 'audio/ogg',
      fileName: message.audio?.file_name,
      caption,
      durationSeconds: audio.duration,
    };
  }
  // A video note or a video: its sound, transcribed like a voice note (the container goes as it is).
  const videoNote = message.video_note;
  if (videoNote !== undefined) {
    return {
      kind: 'audio',
      fileId: videoNote.file_id,
      fileSize: videoNote.file_size,
      mimeType: 'video/mp4',
      fileName: 'video-note.mp4',
      caption,
      durationSeconds: videoNote.duration,
    };
  }
  const video = message.video;
  if (video !== undefined) {
    const mimeType = video.mime_type ?? 'video/mp4';
    const extension = SOUND_CONTAINERS.get(mimeType);
    if (extension === undefined) return 'unsupported_video';
    return {
      kind: 'audio',
      fileId: video.file_id,
      fileSize: video.file_size,
      mimeType,
      fileName: video.file_name ?? `video.${extension}`,
      caption,
      durationSeconds: video.duration,
    };
  }
  const document = message.document;
  if (document !== undefined) {
    const mimeType = document.mime_type ?? '';
    if (mimeType.startsWith('audio/')) {
      return {
        kind: 'audio',
        fileId: document.file_id,
        fileSize: document.file_size,
        mimeType,
        fileName: document.file_name,
        caption,
      };
    }
    const extension = (document.file_name ?? '').toLowerCase().split('.').at(-1) ?? '';
    const file = {
      fileId: document.file_id,
      fileSize: document.file_size,
      fileName: document.file_name,
      caption,
    };
    if (mimeType === 'application/pdf' || (extension === 'pdf' && mimeType === 'application/octet-stream'))
      return { kind: 'pdf', mimeType: 'application/pdf', ...file };
    if (mimeType.startsWith('text/') || TEXT_TYPES.has(mimeType) || TEXT_EXTENSIONS.has(extension))
      return { kind: 'text', mimeType, ...file };
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

async function answerImage(ctx: BotContext, incoming: MediaIncoming): Promise<void> {
  const conversationId = conversationIdOf(ctx);
  if (conversationId === undefined) return;
  const services = ctx.deps.services;
  if (!services.media.seesImages) {
    await sendPlain(ctx, ctx.t.errors.noCapability);
    return;
  }
  await withMediaBudget(ctx, incoming, {}, async (asking) => {
    const part = await fetchPart(ctx, incoming);
    if (part === undefined) return;
    const turn = imageTurn(part, {
      kind: 'image',
      fileId: incoming.fileId,
      ...(incoming.caption === '' ? {} : { caption: withoutMention(ctx, incoming.caption) }),
    });
    asking();
    const reply = await services.chat.sendTurnWithHistory(conversationId, turn, {
      exchangeId: `update:${ctx.update.update_id}`,
    });
    return reply;
  });
}

/**
 * Answers a file within the user's media budgets: reserves one media request (and `cost`'s seconds
 * of audio) before anything is fetched, runs `answer` with typing shown, sends its reply with the
 * buttons under an answer, and tells the user when it fails. `answer` calls `asking` right before
 * it sends anything to a provider; when it never did (a file not fetched, refused, with no text),
 * the reservation is given back. It resolves `undefined` when it has told the user why not.
 */
async function withMediaBudget(
  ctx: BotContext,
  incoming: Incoming,
  cost: { readonly audioSeconds?: number },
  answer: (asking: () => void, budget: MediaReservation) => Promise<ChatReply | AnsweredWith | undefined>,
): Promise<void> {
  const budget = await reserveMedia(ctx, cost);
  if (budget === undefined) return;
  let asked = false;
  const stopTyping = keepTyping(ctx);
  try {
    const result = await answer(() => {
      asked = true;
    }, budget);
    if (result === undefined) return;
    const { reply, above } = 'reply' in result ? result : { reply: result, above: undefined };
    stopTyping();
    await sendMarkdown(
      ctx,
      above === undefined ? reply.text : `${above}\n\n${reply.text}`,
      answerButtonsFor(ctx, reply),
    );
    logAnswer(ctx, reply, incoming);
  } catch (error) {
    ctx.log.warn({ err: error, media: incoming.kind }, 'no answer');
    await sendPlain(ctx, describeMediaFailure(ctx, error));
  } finally {
    stopTyping();
    if (!asked) {
      await budget.release().catch((error: unknown) => ctx.log.warn({ err: error }, 'media budget not given back'));
    }
  }
}

/** An answer with Markdown shown above it (what was heard in a voice note). */
interface AnsweredWith {
  readonly reply: ChatReply;
  readonly above: string;
}

/**
 * A failure to answer media: as for text, except that when every model that was tried refused the
 * file itself (a bad request: corrupt audio, an image it could not decode) the user is told the
 * file could not be read, not that the providers are down.
 */
function describeMediaFailure(ctx: BotContext, error: unknown): string {
  if (
    isRouterError(error) &&
    error.kind === 'unavailable' &&
    error.attempts.length > 0 &&
    error.attempts.every((attempt) => attempt.kind === 'bad_request')
  ) {
    return ctx.t.media.unreadable;
  }
  return describeFailure(ctx.t, error);
}

/**
 * A PDF: inline, with the history, to a model that takes PDFs when the pool has one and the file
 * is within the inline caps (size, pages); its extracted text, through the whole pool, when not,
 * or when no model that takes PDFs answered (out of quota, failing, refusing the file).
 */
async function answerPdf(ctx: BotContext, incoming: MediaIncoming): Promise<void> {
  const conversationId = conversationIdOf(ctx);
  if (conversationId === undefined) return;
  await withMediaBudget(ctx, incoming, {}, async (asking) => {
    const data = await fetchBytes(ctx, incoming);
    if (data === undefined) return undefined;
    const caption = withoutMention(ctx, incoming.caption);
    const turn = await pdfTurnFor(ctx, data, {
      kind: 'pdf',
      fileId: incoming.fileId,
      ...(caption === '' ? {} : { caption }),
      ...(incoming.fileName === undefined ? {} : { fileName: incoming.fileName }),
    });
    asking();
    return ctx.deps.services.chat.sendTurnWithHistory(conversationId, turn, {
      exchangeId: `update:${ctx.update.update_id}`,
    });
  });
}

/**
 * The turn of a PDF: inline (with its text as the fallback when no model that takes PDFs
 * answers) when the pool has a model that takes PDFs and the file is within the inline caps; else
 * its text, read now. Throws `PdfTextError` when the text is needed and there is none to read.
 */
async function pdfTurnFor(
  ctx: BotContext,
  data: Uint8Array,
  reference: MediaReference,
  telling: Telling = TELL_CUT,
): Promise<MediaTurn & SentTurn> {
  const part: MediaPart = {
    kind: 'pdf',
    mimeType: 'application/pdf',
    data,
    ...(reference.fileName === undefined ? {} : { fileName: reference.fileName }),
  };
  const pages = pdfPageCount(data);
  const inline =
    ctx.deps.services.media.readsPdfs &&
    data.byteLength <= PDF_MAX_BYTES &&
    (pages === undefined || pages <= PDF_MAX_PAGES);
  if (inline) {
    return { ...pdfTurn(part, reference), fallback: (failure) => pdfTextOf(ctx, data, reference, failure, telling) };
  }
  ctx.log.info(
    { bytes: data.byteLength, pages, readsPdfs: ctx.deps.services.media.readsPdfs },
    'PDF not sent inline: reading its text',
  );
  return { ...pdfTextTurn(reference.fileName, await readPdfText(ctx, data, telling), reference) };
}

/** Whether the user is told that a PDF's text was cut (not again when a follow-up reads it again). */
interface Telling {
  readonly tellCut: boolean;
}
const TELL_CUT: Telling = { tellCut: true };

/**
 * The extracted-text turn of a PDF that went inline and found no model to answer it: `failure`
 * again when the PDF has no text either (the reason it was not read is the pool's).
 */
async function pdfTextOf(
  ctx: BotContext,
  data: Uint8Array,
  reference: MediaReference,
  failure: unknown,
  telling: Telling,
): Promise<ChatMessage> {
  ctx.log.info({ err: failure }, 'no model that takes PDFs answered: reading the text of the PDF');
  try {
    return pdfTextTurn(reference.fileName, await readPdfText(ctx, data, telling), reference).sent;
  } catch (error) {
    if (isPdfTextError(error) && error.reason === 'no_text') throw failure;
    throw error;
  }
}

/** The text of a PDF; the user is told first when it was cut (at the token or page cap). */
async function readPdfText(ctx: BotContext, data: Uint8Array, telling: Telling) {
  const started = performance.now();
  const text = await extractPdfText(data);
  ctx.log.info(
    {
      pages: text.pages,
      lastPage: text.lastPage,
      tokens: text.tokens,
      cut: text.cut,
      ms: Math.round(performance.now() - started),
    },
    'read the text of a PDF',
  );
  if (text.cut && telling.tellCut) await sendPlain(ctx, ctx.t.media.pdfTextCut(text.lastPage, text.pages));
  return text;
}

/**
 * For a regenerated answer: the turn a stored media turn was sent as, its file fetched again (a
 * photo to a vision model, a PDF inline or as its text), or `undefined` when it cannot be (a file
 * Telegram no longer gives, a pool without a vision model): the stored stand-in is sent then.
 * A voice note is stored as its transcript, which is asked again as it is.
 */
export function mediaResender(
  ctx: BotContext,
  telling: Telling = TELL_CUT,
): (stored: ChatMessage) => Promise<SentTurn | undefined> {
  const recall = imageRecaller(ctx);
  return async (stored) => {
    const reference = stored.reference;
    if (reference === undefined) return undefined;
    switch (reference.kind) {
      case 'image': {
        if (!ctx.deps.services.media.seesImages) return undefined;
        const image = await recall(reference);
        return image === undefined ? undefined : imageTurn(image, reference);
      }
      case 'pdf': {
        let data: Uint8Array;
        try {
          data = await downloadFile(ctx, reference.fileId);
        } catch (error) {
          if (!(error instanceof DownloadError)) throw error;
          ctx.log.warn({ reason: error.reason, err: error.message }, 'PDF of the conversation not fetched again');
          return undefined;
        }
        return pdfTurnFor(ctx, data, reference, telling);
      }
      case 'audio':
        return undefined;
    }
  };
}

/**
 * For a text question that follows a photo or PDF (`RECALL_WINDOW`): the question asked with that
 * file again, as `mediaResender` sends a media turn again with the question in its caption's
 * place: the photo to a vision model; the PDF inline to a model that takes PDFs (its text as the
 * fallback) or as its text. `undefined` when it cannot be (the stand-in in history is all the
 * model gets then). A long PDF's cut is not told again.
 */
export function mediaRecaller(
  ctx: BotContext,
): (reference: MediaReference, question: ChatMessage) => Promise<SentTurn | undefined> {
  const resend = mediaResender(ctx, { tellCut: false });
  return async (reference, question) => {
    try {
      return await resend({ ...question, reference: { ...reference, caption: question.content } });
    } catch (error) {
      // A PDF whose text cannot be read again (a scan, a file that times out): the question is
      // still answered, from the stand-in.
      if (!isPdfTextError(error)) throw error;
      ctx.log.warn(
        { reason: error.reason },
        'the PDF of the conversation could not be read again: answering without it',
      );
      return undefined;
    }
  };
}

/** A text-like file: its text, with the caption, as one chat turn to any chat model (kept in history). */
async function answerTextFile(ctx: BotContext, incoming: Incoming): Promise<void> {
  const conversationId = conversationIdOf(ctx);
  if (conversationId === undefined) return;
  if (
    incoming.fileSize !== undefined &&
    incoming.fileSize > TEXT_FILE_MAX_BYTES &&
    incoming.fileSize <= MAX_DOWNLOAD_BYTES
  ) {
    await sendPlain(ctx, ctx.t.media.documentTooLong(incoming.fileSize, TEXT_FILE_MAX_CHARS));
    return;
  }
  await withMediaBudget(ctx, incoming, {}, async (asking) => {
    const data = await fetchBytes(ctx, incoming);
    if (data === undefined) return undefined;
    const text = decodeText(data);
    if (text === undefined) {
      await sendPlain(ctx, ctx.t.media.notText);
      return undefined;
    }
    if (text.length > TEXT_FILE_MAX_CHARS) {
      await sendPlain(ctx, ctx.t.media.documentTooLong(text.length, TEXT_FILE_MAX_CHARS));
      return undefined;
    }
    const question = textFileTurn(incoming.fileName ?? 'file.txt', text, withoutMention(ctx, incoming.caption));
    asking();
    return ctx.deps.services.chat.sendMessageWithHistory(conversationId, question, {
      exchangeId: `update:${ctx.update.update_id}`,
    });
  });
}

function logAnswer(
  ctx: BotContext,
  reply: { provider: string; model: string; maskedKey: string; latencyMs: number; failedAttempts: readonly unknown[] },
  incoming: Incoming,
): void {
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
}

/**
 * A voice note: transcribed through the pool (the models that offer transcription, in order, with
 * their own keys and limits), then answered as the text it holds, with history; the user sees a
 * short quote of what was heard above the answer. History keeps the transcript, not the audio.
 */
async function answerVoice(ctx: BotContext, incoming: MediaIncoming): Promise<void> {
  const conversationId = conversationIdOf(ctx);
  if (conversationId === undefined) return;
  const services = ctx.deps.services;
  if (!services.media.hearsAudio) {
    await sendPlain(ctx, ctx.t.errors.noCapability);
    return;
  }
  // Its seconds, as the router counts them: the length Telegram gives, else a second a kilobyte.
  const knownSeconds =
    incoming.durationSeconds ?? (incoming.fileSize === undefined ? undefined : incoming.fileSize / 1000);
  const cost = knownSeconds === undefined ? {} : { audioSeconds: knownSeconds };
  await withMediaBudget(ctx, incoming, cost, async (asking, budget) => {
    const part = await fetchPart(ctx, incoming);
    if (part === undefined) return undefined;
    if (knownSeconds === undefined && !(await budget.audio(part.data.byteLength / 1000))) return undefined;
    asking();
    const heard = await services.media.transcribe(part);
    ctx.log.info(
      { provider: heard.provider, model: heard.model, key: heard.maskedKey, fallbacks: heard.failedAttempts.length },
      'transcribed',
    );
    const caption = withoutMention(ctx, incoming.caption);
    const transcript = caption === '' ? heard.text : `${caption}\n\n${heard.text}`;
    if (heard.text === '') {
      await sendPlain(ctx, ctx.t.media.nothingHeard);
      return undefined;
    }
    const max = ctx.deps.config.maxMessageChars;
    const question = transcript.length > max ? transcript.slice(0, max) : transcript;
    const reply = await services.chat.sendMessageWithHistory(conversationId, question, {
      exchangeId: `update:${ctx.update.update_id}`,
    });
    return { reply, above: quoted(heard.text) };
  });
}

/** What was heard, short, as a Markdown quote with a microphone, its Markdown characters escaped. */
export function quoted(transcript: string): string {
  const oneLine = transcript.replace(/\s+/g, ' ').trim();
  const short =
    oneLine.length > QUOTED_TRANSCRIPT_CHARS ? `${oneLine.slice(0, QUOTED_TRANSCRIPT_CHARS).trimEnd()}…` : oneLine;
  return `> 🎤 ${short.replace(/[\\`*_{}[\]()#+\-.!|<>~]/g, '\\$&')}`;
}

/** The file as a media part, or `undefined` once the user was told why it could not be fetched. */
async function fetchPart(ctx: BotContext, incoming: MediaIncoming): Promise<MediaPart | undefined> {
  const data = await fetchBytes(ctx, incoming);
  if (data === undefined) return undefined;
  return {
    kind: incoming.kind,
    // An image's own bytes say its type better than the message does.
    mimeType: incoming.kind === 'image' ? (imageTypeOf(data) ?? incoming.mimeType) : incoming.mimeType,
    data,
    ...(incoming.fileName === undefined ? {} : { fileName: incoming.fileName }),
    ...(incoming.durationSeconds === undefined ? {} : { durationSeconds: incoming.durationSeconds }),
  };
}

/** The file's bytes, or `undefined` once the user was told why they could not be fetched. */
function fetchBytes(ctx: BotContext, incoming: Incoming): Promise<Uint8Array | undefined> {
  return downloadOrTell(ctx, incoming.fileId, incoming.fileSize);
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
