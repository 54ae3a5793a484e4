/**
 * The reply renderer: model Markdown in, Telegram messages out. Pure functions, no Telegram calls.
 */
import { markdownToTelegramHtml } from './markdown-to-telegram-html';
import { splitForTelegram, TELEGRAM_MESSAGE_LIMIT } from './split';
import { htmlToPlainText } from './telegram-html';

export { markdownToTelegramHtml } from './markdown-to-telegram-html';
export { splitForTelegram, splitPlainText, TELEGRAM_MESSAGE_LIMIT } from './split';
export { escapeHtml, htmlToPlainText } from './telegram-html';

export interface RenderedReply {
  /** Messages to send with `parse_mode: 'HTML'`, in order; each at most `limit` characters. */
  readonly html: string[];
  /**
   * The same messages as plain text (`plain[i]` is the visible text of `html[i]`), to resend
   * without `parse_mode` when Telegram refuses the HTML ("can't parse entities").
   */
  readonly plain: string[];
}

/**
 * Renders a model's Markdown answer as Telegram messages. Blank input gives no messages.
 *
 * @example
 * const { html, plain } = renderForTelegram(answer);
 * for (const [index, part] of html.entries()) await sendHtmlOrPlain(part, plain[index]);
 */
export function renderForTelegram(markdown: string, limit = TELEGRAM_MESSAGE_LIMIT): RenderedReply {
  const html = splitForTelegram(markdownToTelegramHtml(markdown), limit);
  return { html, plain: html.map(htmlToPlainText) };
}
