import { type CommandContext, Composer, type MiddlewareFn } from 'grammy';
import type { Message } from 'grammy/types';
import type { MediaPart } from '../../providers';
import type { BotContext } from '../context';
import { describeFailure, keepTyping, sendPlain } from '../reply';
import { reserveMedia } from './limits';
import { type Incoming, incomingOf } from './media';
import { downloadOrTell, imageTypeOf } from './media-download';

/**
 * `/translate <language>`: the texts are the lines under the command, or the lines of the message
 * it replies to. The language is the first word after the command (a name or a code, passed to
 * the model exactly as typed), or TRANSLATE_DEFAULT_LANG. Output keeps the input's order, one line
 * per text; a text that could not be translated is shown as it was, marked, in its own place.
 * A reply to a voice note or audio file translates its transcript (transcribed through the pool);
 * a reply to a photo or image file translates its caption, or without one the text in the image
 * (read by a vision model). Both then go through the same translation wire format.
 */
export function translateFeature(costGate: MiddlewareFn<BotContext>): Composer<BotContext> {
  const feature = new Composer<BotContext>();
  const command = feature.command('translate');
  command.use(async (ctx, next) => {
    const request = requestOf(ctx);
    const defaultLanguage = ctx.deps.config.translateDefaultLang;
    if (request.media !== undefined) {
      // The texts are in the replied-to voice note or image: read after the limits.
      if (!(request.media.kind === 'audio' ? ctx.deps.services.media.hearsAudio : ctx.deps.services.media.seesImages)) {
        await sendPlain(ctx, ctx.t.errors.noCapability);
        return;
      }
      await next();
      return;
    }
    if (request.texts.length === 0) {
      await ctx.reply(
        request.language === undefined
          ? ctx.t.translate.usage(defaultLanguage)
          : ctx.t.translate.nothingToTranslate(defaultLanguage),
      );
      return;
    }
    if (!(await fitsLimits(ctx, request.texts))) return;
    await next();
  });
  command.use(costGate, translate);
  return feature;
}

/** Whether the texts are few and short enough; when not, the user was told. */
async function fitsLimits(ctx: CommandContext<BotContext>, texts: readonly string[]): Promise<boolean> {
  const max = ctx.deps.config.translateMaxTexts;
  if (texts.length > max) {
    await ctx.reply(ctx.t.translate.tooMany(texts.length, max));
    return false;
  }
  const tooLong = texts.find((text) => text.length > ctx.deps.config.maxMessageChars);
  if (tooLong !== undefined) {
    await ctx.reply(ctx.t.tooLong(tooLong.length, ctx.deps.config.maxMessageChars));
    return false;
  }
  return true;
}

/** The command parsed once per update: checked before the limits, then translated after them. */
const parsed = new WeakMap<BotContext, TranslateRequest>();

function requestOf(ctx: CommandContext<BotContext>): TranslateRequest {
  let request = parsed.get(ctx);
  if (request === undefined) {
    const replied = ctx.msg.reply_to_message;
    request = parseTranslateCommand(ctx.msg.text ?? ctx.msg.caption ?? '', replied?.text ?? replied?.caption);
    const media = repliedMedia(replied);
    // A voice note is translated by its transcript; an image by its caption, else the text in it.
    if (request.fromReply && media !== undefined && (media.kind === 'audio' || request.texts.length === 0)) {
      request = { ...request, texts: [], media };
    }
    parsed.set(ctx, request);
  }
  return request;
}

async function translate(ctx: CommandContext<BotContext>): Promise<void> {
  const request = requestOf(ctx);
  const language = request.language ?? ctx.deps.config.translateDefaultLang;
  const stopTyping = keepTyping(ctx);
  try {
    let texts = request.texts;
    if (request.media !== undefined) {
      const read = await textsOf(ctx, request.media);
      if (read === undefined || !(await fitsLimits(ctx, read))) return;
      texts = read;
    }
    const results = await ctx.deps.services.translator.translateMultipleTexts(texts, language);
    stopTyping();
    const failed = results.filter((result) => !result.ok);
    const poolError = failed.find((result) => result.error !== undefined)?.error;
    if (failed.length === results.length && poolError !== undefined) {
      await sendPlain(ctx, describeFailure(ctx.t, poolError));
      return;
    }
    // One output line per input line: a translation the model broke over several lines is joined.
    const lines = results.map((result) =>
      result.ok ? result.text.trim().replace(/\s*\n\s*/g, ' ') : ctx.t.translate.failedLine(result.text),
    );
    if (failed.length > 0) lines.push('', ctx.t.translate.someFailed(failed.length));
    await sendPlain(ctx, lines.join('\n'));
    ctx.log.info({ texts: results.length, failed: failed.length, language }, 'translated');
  } finally {
    stopTyping();
  }
}

/**
 * The lines of a replied-to voice note (its transcript, through the pool) or image (the text in
 * it, through a vision model), or `undefined` once the user was told why there are none.
 */
async function textsOf(ctx: CommandContext<BotContext>, media: RepliedMedia): Promise<string[] | undefined> {
  // A media request of the user's daily budgets, with its seconds of audio as the router counts them.
  const seconds =
    media.kind !== 'audio' ? undefined : (media.durationSeconds ?? (media.fileSize ?? 0) / 1000) || undefined;
  const budget = await reserveMedia(ctx, seconds === undefined ? {} : { audioSeconds: seconds });
  if (budget === undefined) return undefined;
  const data = await downloadOrTell(ctx, media.fileId, media.fileSize);
  if (data === undefined) {
    await budget.release();
    return undefined;
  }
  if (media.kind === 'audio' && seconds === undefined && !(await budget.audio(data.byteLength / 1000))) {
    return undefined;
  }
  const part: MediaPart = {
    kind: media.kind,
    mimeType: media.kind === 'image' ? (imageTypeOf(data) ?? media.mimeType) : media.mimeType,
    data,
    ...(media.fileName === undefined ? {} : { fileName: media.fileName }),
    ...(media.durationSeconds === undefined ? {} : { durationSeconds: media.durationSeconds }),
  };
  try {
    const read =
      media.kind === 'audio'
        ? await ctx.deps.services.media.transcribe(part)
        : await ctx.deps.services.media.readText(part);
    ctx.log.info(
      { provider: read.provider, model: read.model, key: read.maskedKey, media: media.kind },
      media.kind === 'audio' ? 'transcribed' : 'read image text',
    );
    const lines = splitLines(read.text);
    if (lines.length === 0) {
      await sendPlain(ctx, media.kind === 'audio' ? ctx.t.media.nothingHeard : ctx.t.translate.noTextInImage);
      return undefined;
    }
    return lines;
  } catch (error) {
    ctx.log.warn({ err: error, media: media.kind }, 'replied-to media not read');
    await sendPlain(ctx, describeFailure(ctx.t, error));
    return undefined;
  }
}

/** A replied-to voice note, audio file, video or image, to read the texts from. */
type RepliedMedia = Incoming & { readonly kind: 'audio' | 'image' };

/** The sound or image of a replied-to message, as chat reads media (`incomingOf`). */
function repliedMedia(message: Message | undefined): RepliedMedia | undefined {
  const incoming = message === undefined ? undefined : incomingOf(message);
  if (typeof incoming !== 'object') return undefined;
  return incoming.kind === 'audio' || incoming.kind === 'image' ? (incoming as RepliedMedia) : undefined;
}

function splitLines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

interface TranslateRequest {
  /** As the user typed it; `undefined` when none was given. */
  readonly language: string | undefined;
  readonly texts: readonly string[];
  /** Whether the texts (if any) come from the replied-to message, not the command. */
  readonly fromReply: boolean;
  /** The replied-to voice note or image whose texts are read after the limits. */
  readonly media?: RepliedMedia;
}

/**
 * `/translate fa\nline one\nline two` → language `fa`, texts [line one, line two].
 * The first word after the command is the language; the rest of that line, and every later
 * non-empty line, is a text. Without texts in the command, the replied-to message's lines are used.
 */
function parseTranslateCommand(text: string, repliedText: string | undefined): TranslateRequest {
  const [firstLine = '', ...otherLines] = text.split(/\r?\n/);
  const [, ...words] = firstLine.trim().split(/\s+/); // drops "/translate" or "/translate@bot"
  const [language, ...restOfLine] = words;
  const lines = [restOfLine.join(' '), ...otherLines].map((line) => line.trim()).filter((line) => line !== '');
  const texts = lines.length > 0 ? lines : splitLines(repliedText ?? '');
  return {
    language: language === undefined || language === '' ? undefined : language,
    texts,
    fromReply: lines.length === 0,
  };
}
