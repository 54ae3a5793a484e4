import type { MessageEntity } from 'grammy/types';
import type { Params } from './body';
import { stringParam } from './body';
import { fail, telegramErrors } from './errors';
import { parseTelegramHtml } from '../../helpers/telegram-html';

/**
 * How message length is counted against the 4096 limit. 'utf16' (the default) counts UTF-16 code
 * units, as entity offsets are counted; 'code-points' counts Unicode scalars, which live probes
 * report the real sendMessage limit uses. 'utf16' is the stricter of the two: text it accepts,
 * Telegram accepts.
 */
export type LengthUnit = 'utf16' | 'code-points';

export const MAX_MESSAGE_LENGTH = 4096;

export interface FormattedText {
  /** The text the user sees: after entity parsing and Telegram's trimming. */
  readonly text: string;
  readonly entities: MessageEntity[];
}

export function textLength(text: string, unit: LengthUnit): number {
  if (unit === 'utf16') return text.length;
  let count = 0;
  for (const _ of text) count++;
  return count;
}

export interface FormatOptions {
  readonly allowEmpty: boolean;
  readonly lengthUnit: LengthUnit;
}

/**
 * What Telegram does with `text` + `parse_mode` / `entities` of an outgoing message: parse the markup
 * (HTML is checked by the shared validator; Markdown modes are passed through unparsed), trim surrounding
 * whitespace, and enforce 1..4096 (or 0..4096 when empty text is allowed, as for drafts).
 */
export function formatOutgoingText(params: Params, options: FormatOptions): FormattedText {
  const source = stringParam(params, 'text') ?? '';
  const parseMode = stringParam(params, 'parse_mode') ?? '';
  let parsed: FormattedText;
  switch (parseMode.toLowerCase()) {
    case '':
      parsed = { text: source, entities: Array.isArray(params.entities) ? (params.entities as MessageEntity[]) : [] };
      break;
    case 'html':
      parsed = parseHtml(source);
      break;
    case 'markdown':
    case 'markdownv2':
      // Not modelled: the text is kept as sent (the bot under test renders HTML).
      parsed = { text: source, entities: [] };
      break;
    default:
      fail(telegramErrors.unsupportedParseMode());
  }
  const trimmed = trimFormattedText(parsed);
  if (trimmed.text === '' && !options.allowEmpty) fail(telegramErrors.messageTextEmpty());
  if (textLength(trimmed.text, options.lengthUnit) > MAX_MESSAGE_LENGTH) fail(telegramErrors.messageTooLong());
  return trimmed;
}

/**
 * HTML goes through the project's checker (tests/helpers/telegram-html.ts), shared with the render
 * tests so there is one definition of valid output. It is stricter than Telegram on purpose (it
 * refuses a bare `&`, unknown attributes, nesting Telegram would flatten), so such output fails here
 * with a description Telegram itself would not give.
 */
function parseHtml(source: string): FormattedText {
  let parsed: ReturnType<typeof parseTelegramHtml>;
  try {
    parsed = parseTelegramHtml(source);
  } catch (error) {
    if (error instanceof Error && error.name === 'TelegramHtmlError')
      fail({ error_code: 400, description: error.message });
    throw error;
  }
  // Telegram keeps a language only on pre; a lone <code class="language-…"> loses it.
  const entities = parsed.entities.map((entity) => {
    if (entity.type !== 'code' || entity.language === undefined) return entity;
    const { language: _dropped, ...plain } = entity;
    return plain;
  });
  return { text: parsed.text, entities: entities as MessageEntity[] };
}

const EDGE_WHITESPACE = /^[ \t\r\n\v\f]+|[ \t\r\n\v\f]+$/g;

/** Telegram drops leading and trailing whitespace; entities are shifted and clipped to what remains. */
export function trimFormattedText(formatted: FormattedText): FormattedText {
  const leading = /^[ \t\r\n\v\f]*/.exec(formatted.text)?.[0].length ?? 0;
  const text = formatted.text.replace(EDGE_WHITESPACE, '');
  const entities: MessageEntity[] = [];
  for (const entity of formatted.entities) {
    const start = Math.max(0, entity.offset - leading);
    const end = Math.min(text.length, entity.offset + entity.length - leading);
    if (end > start) entities.push({ ...entity, offset: start, length: end - start });
  }
  return { text, entities };
}

/**
 * The entities Telegram detects in a user's plain text: bot commands (/start, /start@bot), mentions
 * (@username) and URLs. Patterns follow tdlib's `match_bot_commands` / `match_mentions`.
 */
export function detectEntities(text: string): MessageEntity[] {
  const entities: MessageEntity[] = [];
  const add = (type: 'bot_command' | 'mention' | 'url', match: RegExpExecArray, prefixLength: number): void => {
    entities.push({ type, offset: match.index + prefixLength, length: match[0].length - prefixLength });
  };
  for (const match of text.matchAll(
    /(^|[^\p{L}\p{N}_/<>])\/[a-zA-Z0-9_]{1,64}(@[a-zA-Z0-9_]{3,32})?(?![\p{L}\p{N}_/<>])/gu,
  )) {
    add('bot_command', match as RegExpExecArray, match[1]?.length ?? 0);
  }
  for (const match of text.matchAll(/(^|[^\p{L}\p{N}_])@[a-zA-Z0-9_]{5,32}(?![\p{L}\p{N}_])/gu)) {
    add('mention', match as RegExpExecArray, match[1]?.length ?? 0);
  }
  for (const match of text.matchAll(/(^|\s)https?:\/\/[^\s<>"]+/g)) {
    add('url', match as RegExpExecArray, match[1]?.length ?? 0);
  }
  return entities.sort((a, b) => a.offset - b.offset);
}
