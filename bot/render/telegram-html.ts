/**
 * The small part of Telegram's HTML parse mode that the renderer and the splitter share: escaping,
 * and a lenient reader that turns Telegram HTML into tags and visible text the way Telegram reads
 * it (so visible text here is what Telegram counts and shows).
 */

/**
 * Tags Telegram's HTML parse mode accepts (Bot API "formatting options"). `span` counts only with
 * `class="tg-spoiler"`.
 */
const TELEGRAM_TAGS: ReadonlySet<string> = new Set([
  'b',
  'strong',
  'i',
  'em',
  'u',
  'ins',
  's',
  'strike',
  'del',
  'span',
  'tg-spoiler',
  'tg-emoji',
  'a',
  'code',
  'pre',
  'blockquote',
]);

/** Escapes text for Telegram HTML: `&`, `<`, `>` (Telegram knows only these and `&quot;` by name). */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>]/g, (character) => (character === '&' ? '&amp;' : character === '<' ? '&lt;' : '&gt;'));
}

/** Escapes an attribute value to be written between double quotes. */
export function escapeAttribute(value: string): string {
  return escapeHtml(value).replace(/"/g, '&quot;');
}

export type HtmlPiece =
  | { readonly kind: 'open'; readonly name: string; readonly raw: string }
  | { readonly kind: 'close'; readonly name: string }
  | { readonly kind: 'text'; readonly text: string };

// A start or end tag; attribute values may be quoted (and then contain `>`) or bare.
const TAG = /<(\/?)([A-Za-z][A-Za-z0-9-]*)((?:\s+[^\s=>"'/]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'>]+))?)*)\s*>/y;
// Telegram's entity rule: the four names (exact case) or a number, `;` optional.
const ENTITY = /&(?:(lt|gt|amp|quot)|#(?:[xX]([0-9A-Fa-f]+)|([0-9]+)));?/y;
const NAMED: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"' };

function decodeEntityAt(html: string, index: number): { text: string; end: number } | undefined {
  ENTITY.lastIndex = index;
  const match = ENTITY.exec(html);
  if (!match) return undefined;
  const [whole, name, hex, decimal] = match;
  if (name !== undefined) return { text: NAMED[name] ?? '', end: index + whole.length };
  const digits = hex ?? decimal ?? '';
  // Telegram reads at most 10 bytes of a numeric entity; longer ones stay literal text.
  if (digits.length > 7) return undefined;
  const codePoint = Number.parseInt(digits, hex === undefined ? 10 : 16);
  if (codePoint === 0 || codePoint >= 0x10ffff || (codePoint >= 0xd800 && codePoint <= 0xdfff)) return undefined;
  return { text: String.fromCodePoint(codePoint), end: index + whole.length };
}

/**
 * Reads Telegram HTML into open tags, close tags and decoded text, leniently: a `<` that does not
 * start a tag Telegram knows, and a `&` that starts no entity, are read as text. Closing tags are
 * not matched here (see {@link balanceHtmlPieces}). Adjacent text is merged.
 */
export function readTelegramHtml(html: string): HtmlPiece[] {
  const pieces: HtmlPiece[] = [];
  let text = '';
  const flushText = (): void => {
    if (text !== '') pieces.push({ kind: 'text', text });
    text = '';
  };
  let index = 0;
  while (index < html.length) {
    const character = html[index];
    if (character === '<') {
      TAG.lastIndex = index;
      const match = TAG.exec(html);
      const name = match?.[2]?.toLowerCase();
      if (match && name !== undefined && TELEGRAM_TAGS.has(name)) {
        flushText();
        pieces.push(match[1] === '/' ? { kind: 'close', name } : { kind: 'open', name, raw: match[0] });
        index += match[0].length;
        continue;
      }
    } else if (character === '&') {
      const entity = decodeEntityAt(html, index);
      if (entity) {
        text += entity.text;
        index = entity.end;
        continue;
      }
    }
    // Copy up to the next character that may start markup.
    let next = index + 1;
    while (next < html.length && html[next] !== '<' && html[next] !== '&') next++;
    text += html.slice(index, next);
    index = next;
  }
  flushText();
  return pieces;
}

/**
 * Makes the tags of a piece list properly nested: an end tag with no matching open tag is dropped,
 * one that matches an outer tag first closes the tags inside it, and tags still open at the end are
 * closed. Telegram would refuse the input in each of these cases; here the text survives.
 */
export function balanceHtmlPieces(pieces: readonly HtmlPiece[]): HtmlPiece[] {
  const balanced: HtmlPiece[] = [];
  const open: string[] = [];
  for (const piece of pieces) {
    if (piece.kind === 'open') {
      open.push(piece.name);
    } else if (piece.kind === 'close') {
      const depth = open.lastIndexOf(piece.name);
      if (depth === -1) continue;
      while (open.length > depth) balanced.push({ kind: 'close', name: open.pop() ?? piece.name });
      continue;
    }
    balanced.push(piece);
  }
  while (open.length > 0) balanced.push({ kind: 'close', name: open.pop() ?? '' });
  return balanced;
}

/**
 * The visible text of Telegram HTML: tags removed, entities decoded — what Telegram shows and what
 * it counts toward the 4096-character limit. The plain-text fallback when Telegram refuses HTML.
 */
export function htmlToPlainText(html: string): string {
  let text = '';
  for (const piece of readTelegramHtml(html)) if (piece.kind === 'text') text += piece.text;
  return text;
}
