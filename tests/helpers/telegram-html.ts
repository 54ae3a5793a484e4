/**
 * Telegram's HTML parse mode as a checker, for tests and the fake Bot API server: what Telegram
 * refuses with "Bad Request: can't parse entities: …" is refused here with the same kind of
 * message (byte offsets are UTF-8 bytes, as Telegram reports them).
 *
 * Written independently of bot/render on purpose, following Telegram's parser (tdlib
 * `parse_html`) and the Bot API "formatting options". It is STRICTER than Telegram where Telegram
 * is lenient or silently drops formatting, because such input is a bug in our output:
 *
 * - a bare `&` or an unknown entity (`&nbsp;`), an entity without `;`, and a bare `>` are errors
 *   (Telegram shows them as text; the Bot API docs say to escape them);
 * - only the documented attributes are allowed: `href` on `a` (an http(s), tg or mailto URL),
 *   `class="language-…"` on `code`, `class="tg-spoiler"` on `span` (required), a bare `expandable`
 *   on `blockquote`, `emoji-id` on `tg-emoji` (required, digits);
 * - nesting Telegram would flatten is an error: anything inside `code`, anything but one `code`
 *   filling a `pre`, a link inside a link, a blockquote inside a blockquote.
 */

export interface TelegramEntity {
  readonly type:
    | 'bold'
    | 'italic'
    | 'underline'
    | 'strikethrough'
    | 'spoiler'
    | 'custom_emoji'
    | 'text_link'
    | 'code'
    | 'pre'
    | 'blockquote'
    | 'expandable_blockquote';
  /** In UTF-16 code units of the visible text, as the Bot API counts. */
  readonly offset: number;
  readonly length: number;
  readonly url?: string;
  readonly language?: string;
  readonly custom_emoji_id?: string;
}

export interface ParsedTelegramHtml {
  /** The visible text: tags removed, entities decoded. */
  readonly text: string;
  readonly entities: readonly TelegramEntity[];
}

export class TelegramHtmlError extends Error {
  override readonly name = 'TelegramHtmlError';
}

const PREFIX = "Bad Request: can't parse entities: ";

const ENTITY_TYPES: Readonly<Record<string, TelegramEntity['type']>> = {
  b: 'bold',
  strong: 'bold',
  i: 'italic',
  em: 'italic',
  u: 'underline',
  ins: 'underline',
  s: 'strikethrough',
  strike: 'strikethrough',
  del: 'strikethrough',
  'tg-spoiler': 'spoiler',
  span: 'spoiler',
  'tg-emoji': 'custom_emoji',
  a: 'text_link',
  code: 'code',
  pre: 'pre',
  blockquote: 'blockquote',
};

const ALLOWED_URL = /^(?:https?:\/\/[^\s]+|tg:[^\s]+|mailto:[^\s]+)$/i;

interface OpenTag {
  readonly name: string;
  readonly attributes: ReadonlyMap<string, string>;
  readonly byteOffset: number;
  /** UTF-16 offset in the visible text where the tag opened. */
  readonly textOffset: number;
  /** Index in `pieces` (for the pre > code rule). */
  readonly pieceIndex: number;
}

function isSpace(character: string | undefined): boolean {
  return character === ' ' || character === '\t' || character === '\n' || character === '\r';
}

/**
 * Parses Telegram HTML strictly; throws a {@link TelegramHtmlError} whose message reads like
 * Telegram's ("Bad Request: can't parse entities: Unsupported start tag "p" at byte offset 0").
 */
export function parseTelegramHtml(html: string): ParsedTelegramHtml {
  const byteOffset = (index: number): number => Buffer.byteLength(html.slice(0, index), 'utf8');
  const fail = (message: string): never => {
    throw new TelegramHtmlError(PREFIX + message);
  };
  let text = '';
  const entities: TelegramEntity[] = [];
  const stack: OpenTag[] = [];
  // What came last: a tag (by name, opening or closing) or text; for the pre > code rule.
  const pieces: string[] = [];

  const decodeEntity = (start: number, inAttribute: boolean): { value: string; end: number } => {
    const match = /^&(?:(lt|gt|amp|quot)|#([0-9]{1,7})|#x([0-9a-fA-F]{1,6}));/.exec(html.slice(start, start + 12));
    const where = `${inAttribute ? 'in an attribute ' : ''}at byte offset ${byteOffset(start)}`;
    if (!match)
      return fail(`Character "&" must be escaped as "&amp;" or start &lt; &gt; &amp; &quot; or &#N; ${where}`);
    const [whole, name, decimal, hex] = match;
    if (name !== undefined) {
      const value = { lt: '<', gt: '>', amp: '&', quot: '"' }[name as 'lt' | 'gt' | 'amp' | 'quot'];
      return { value, end: start + whole.length };
    }
    const codePoint = decimal !== undefined ? Number.parseInt(decimal, 10) : Number.parseInt(hex ?? '', 16);
    if (codePoint === 0 || codePoint > 0x10ffff || (codePoint >= 0xd800 && codePoint <= 0xdfff)) {
      return fail(`Invalid character reference ${whole} ${where}`);
    }
    return { value: String.fromCodePoint(codePoint), end: start + whole.length };
  };

  let index = 0;
  while (index < html.length) {
    const character = html[index] ?? '';
    if (character === '&') {
      const entity = decodeEntity(index, false);
      text += entity.value;
      index = entity.end;
      pieces.push('#text');
      continue;
    }
    if (character === '>') fail(`Character ">" must be escaped as "&gt;" at byte offset ${byteOffset(index)}`);
    if (character !== '<') {
      let next = index + 1;
      while (next < html.length && !'<>&'.includes(html[next] ?? '')) next++;
      text += html.slice(index, next);
      index = next;
      pieces.push('#text');
      continue;
    }

    const begin = index;
    const beginByte = byteOffset(begin);
    index++;
    if (html[index] === '/') {
      // End tag.
      if (stack.length === 0) fail(`Unexpected end tag at byte offset ${beginByte}`);
      index++;
      let nameEnd = index;
      while (nameEnd < html.length && !isSpace(html[nameEnd]) && html[nameEnd] !== '>') nameEnd++;
      const endName = html.slice(index, nameEnd).toLowerCase();
      index = nameEnd;
      while (isSpace(html[index])) index++;
      if (html[index] !== '>') fail(`Unclosed end tag at byte offset ${beginByte}`);
      index++;
      const open = stack.pop() as OpenTag;
      if (endName !== open.name) {
        fail(`Unmatched end tag at byte offset ${beginByte}, expected "</${open.name}>", found "</${endName}>"`);
      }
      closeEntity(open, text.length, entities, pieces, fail);
      pieces.push(`/${open.name}`);
      continue;
    }

    // Start tag.
    let nameEnd = index;
    while (nameEnd < html.length && !isSpace(html[nameEnd]) && html[nameEnd] !== '>') nameEnd++;
    if (nameEnd >= html.length) fail(`Unclosed start tag at byte offset ${beginByte}`);
    const name = html.slice(index, nameEnd).toLowerCase();
    if (!(name in ENTITY_TYPES)) fail(`Unsupported start tag "${name}" at byte offset ${beginByte}`);
    index = nameEnd;
    const attributes = new Map<string, string>();
    while (index < html.length && html[index] !== '>') {
      while (isSpace(html[index])) index++;
      if (html[index] === '>') break;
      const attributeStart = index;
      while (index < html.length && !isSpace(html[index]) && html[index] !== '=' && html[index] !== '>') index++;
      const attributeName = html.slice(attributeStart, index).toLowerCase();
      if (attributeName === '') fail(`Empty attribute name in the tag "${name}" at byte offset ${beginByte}`);
      while (isSpace(html[index])) index++;
      let value = '';
      if (html[index] === '=') {
        index++;
        while (isSpace(html[index])) index++;
        const quote = html[index];
        if (quote === '"' || quote === "'") {
          index++;
          while (index < html.length && html[index] !== quote) {
            if (html[index] === '&') {
              const entity = decodeEntity(index, true);
              value += entity.value;
              index = entity.end;
            } else {
              if (html[index] === '<') fail(`Character "<" in an attribute at byte offset ${byteOffset(index)}`);
              value += html[index];
              index++;
            }
          }
          if (index >= html.length) fail(`Unclosed start tag "${name}" at byte offset ${beginByte}`);
          index++;
        } else {
          const tokenStart = index;
          while (/[A-Za-z0-9.-]/.test(html[index] ?? '')) index++;
          value = html.slice(tokenStart, index).toLowerCase();
          if (index < html.length && !isSpace(html[index]) && html[index] !== '>') {
            fail(`Unexpected end of name token at byte offset ${byteOffset(tokenStart)}`);
          }
        }
      } else if (!(name === 'blockquote' && attributeName === 'expandable')) {
        fail(`Expected equal sign in declaration of an attribute of the tag "${name}" at byte offset ${beginByte}`);
      }
      if (index >= html.length) fail(`Unclosed start tag at byte offset ${beginByte}`);
      checkAttribute(name, attributeName, value, beginByte, fail);
      attributes.set(attributeName, value);
    }
    if (index >= html.length) fail(`Unclosed start tag at byte offset ${beginByte}`);
    index++;
    if (name === 'span' && attributes.get('class') !== 'tg-spoiler') {
      fail(`Tag "span" must have class "tg-spoiler" at byte offset ${beginByte}`);
    }
    if (name === 'tg-emoji' && !attributes.has('emoji-id')) fail('Invalid custom emoji identifier specified');
    checkNesting(name, stack, pieces, beginByte, fail);
    stack.push({ name, attributes, byteOffset: beginByte, textOffset: text.length, pieceIndex: pieces.length });
    pieces.push(name);
  }
  const unclosed = stack[stack.length - 1];
  if (unclosed) fail(`Can't find end tag corresponding to start tag "${unclosed.name}"`);
  if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text)) {
    fail(
      'Text contains invalid Unicode characters after decoding HTML entities, check for unmatched surrogate code units',
    );
  }
  return { text, entities: entities.sort((a, b) => a.offset - b.offset || b.length - a.length) };
}

function checkAttribute(
  tag: string,
  attribute: string,
  value: string,
  beginByte: number,
  fail: (message: string) => never,
): void {
  const where = `in the tag "${tag}" at byte offset ${beginByte}`;
  if (tag === 'a' && attribute === 'href') {
    if (!ALLOWED_URL.test(value)) fail(`Unsupported URL "${value}" ${where}`);
    return;
  }
  if (tag === 'code' && attribute === 'class') {
    if (!/^language-[^\s"'<>&]+$/.test(value)) fail(`Class of "code" must be "language-…", found "${value}" ${where}`);
    return;
  }
  if (tag === 'span' && attribute === 'class') return;
  if (tag === 'blockquote' && attribute === 'expandable') return;
  if (tag === 'tg-emoji' && attribute === 'emoji-id') {
    if (!/^[1-9][0-9]*$/.test(value)) fail('Invalid custom emoji identifier specified');
    return;
  }
  fail(`Unsupported attribute "${attribute}" ${where}`);
}

function checkNesting(
  name: string,
  stack: readonly OpenTag[],
  pieces: readonly string[],
  beginByte: number,
  fail: (message: string) => never,
): void {
  const parent = stack[stack.length - 1];
  if (parent?.name === 'code') fail(`Tag "${name}" can't be inside "code" at byte offset ${beginByte}`);
  if (parent?.name === 'pre') {
    // Only <pre><code class="…">…</code></pre>: the code must come right after <pre>.
    if (name !== 'code' || pieces.length !== parent.pieceIndex + 1) {
      fail(`Tag "${name}" can't be inside "pre" at byte offset ${beginByte}`);
    }
  }
  if (stack.some((open) => open.name === 'pre' || open.name === 'code') && parent?.name !== 'pre') {
    fail(`Tag "${name}" can't be inside "pre" or "code" at byte offset ${beginByte}`);
  }
  if (name === 'a' && stack.some((open) => open.name === 'a')) {
    fail(`Tag "a" can't be inside "a" at byte offset ${beginByte}`);
  }
  if ((name === 'pre' || name === 'code') && stack.some((open) => open.name === 'a')) {
    fail(`Tag "${name}" can't be inside "a" at byte offset ${beginByte}`);
  }
  if (name === 'blockquote' && stack.some((open) => open.name === 'blockquote')) {
    fail(`Tag "blockquote" can't be inside "blockquote" at byte offset ${beginByte}`);
  }
}

function closeEntity(
  open: OpenTag,
  textLength: number,
  entities: TelegramEntity[],
  pieces: readonly string[],
  fail: (message: string) => never,
): void {
  if (open.name === 'pre') {
    // A code inside pre must end right before </pre>.
    const inner = pieces.slice(open.pieceIndex + 1);
    if (inner.includes('code') && pieces[pieces.length - 1] !== '/code') {
      fail(`Tag "pre" must end right after its "code" at byte offset ${open.byteOffset}`);
    }
  }
  const length = textLength - open.textOffset;
  if (length === 0) return; // Telegram drops empty entities.
  const type = ENTITY_TYPES[open.name] ?? 'bold';
  if (open.name === 'code' && open.attributes.has('class')) {
    const language = (open.attributes.get('class') ?? '').slice('language-'.length);
    entities.push({ type: 'code', offset: open.textOffset, length, language });
    return;
  }
  if (open.name === 'pre') {
    const code = entities.findIndex(
      (entity) => entity.type === 'code' && entity.offset === open.textOffset && entity.length === length,
    );
    const language = code >= 0 ? entities[code]?.language : undefined;
    if (code >= 0) entities.splice(code, 1);
    entities.push({ type: 'pre', offset: open.textOffset, length, ...(language ? { language } : {}) });
    return;
  }
  if (open.name === 'a') {
    entities.push({ type, offset: open.textOffset, length, url: open.attributes.get('href') ?? '' });
    return;
  }
  if (open.name === 'blockquote' && open.attributes.has('expandable')) {
    entities.push({ type: 'expandable_blockquote', offset: open.textOffset, length });
    return;
  }
  if (open.name === 'tg-emoji') {
    entities.push({ type, offset: open.textOffset, length, custom_emoji_id: open.attributes.get('emoji-id') ?? '' });
    return;
  }
  entities.push({ type, offset: open.textOffset, length });
}

/**
 * `undefined` when Telegram would accept `html` with `parse_mode: 'HTML'`, otherwise the error
 * description, e.g. `Bad Request: can't parse entities: Unsupported start tag "p" at byte offset 0`.
 */
export function validateTelegramHtml(html: string): string | undefined {
  try {
    parseTelegramHtml(html);
    return undefined;
  } catch (error) {
    if (error instanceof TelegramHtmlError) return error.message;
    throw error;
  }
}

/** The text Telegram shows for `html` (tags removed, entities decoded); throws if `html` is invalid. */
export function telegramVisibleText(html: string): string {
  return parseTelegramHtml(html).text;
}
