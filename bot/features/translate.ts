import { type CommandContext, Composer, type MiddlewareFn } from 'grammy';
import type { BotContext } from '../context';
import { describeFailure, keepTyping, sendPlain } from '../reply';

/**
 * `/translate <language>`: the texts are the lines under the command, or the lines of the message
 * it replies to. The language is the first word after the command (a name or a code, passed to
 * the model exactly as typed), or TRANSLATE_DEFAULT_LANG. Output keeps the input's order, one line
 * per text; a text that could not be translated is shown as it was, marked, in its own place.
 */
export function translateFeature(costGate: MiddlewareFn<BotContext>): Composer<BotContext> {
  const feature = new Composer<BotContext>();
  const command = feature.command('translate');
  command.use(async (ctx, next) => {
    const request = requestOf(ctx);
    const defaultLanguage = ctx.deps.config.translateDefaultLang;
    if (request.texts.length === 0) {
      await ctx.reply(
        request.language === undefined
          ? ctx.t.translate.usage(defaultLanguage)
          : ctx.t.translate.nothingToTranslate(defaultLanguage),
      );
      return;
    }
    const max = ctx.deps.config.translateMaxTexts;
    if (request.texts.length > max) {
      await ctx.reply(ctx.t.translate.tooMany(request.texts.length, max));
      return;
    }
    const tooLong = request.texts.find((text) => text.length > ctx.deps.config.maxMessageChars);
    if (tooLong !== undefined) {
      await ctx.reply(ctx.t.tooLong(tooLong.length, ctx.deps.config.maxMessageChars));
      return;
    }
    await next();
  });
  command.use(costGate, translate);
  return feature;
}

/** The command parsed once per update: checked before the limits, then translated after them. */
const parsed = new WeakMap<BotContext, TranslateRequest>();

function requestOf(ctx: CommandContext<BotContext>): TranslateRequest {
  let request = parsed.get(ctx);
  if (request === undefined) {
    request = parseTranslateCommand(
      ctx.msg.text ?? ctx.msg.caption ?? '',
      ctx.msg.reply_to_message?.text ?? ctx.msg.reply_to_message?.caption,
    );
    parsed.set(ctx, request);
  }
  return request;
}

async function translate(ctx: CommandContext<BotContext>): Promise<void> {
  const request = requestOf(ctx);
  const language = request.language ?? ctx.deps.config.translateDefaultLang;
  const stopTyping = keepTyping(ctx);
  try {
    const results = await ctx.deps.services.translator.translateMultipleTexts(request.texts, language);
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

interface TranslateRequest {
  /** As the user typed it; `undefined` when none was given. */
  readonly language: string | undefined;
  readonly texts: readonly string[];
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
  const texts =
    lines.length > 0
      ? lines
      : (repliedText ?? '')
          .split(/\r?\n/)
          .map((line) => line.trim())
          .filter((line) => line !== '');
  return { language: language === undefined || language === '' ? undefined : language, texts };
}
