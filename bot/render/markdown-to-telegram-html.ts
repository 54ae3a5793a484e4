/**
 * Markdown as models write it (CommonMark plus GFM tables and strikethrough) to the HTML subset
 * Telegram accepts. markdown-it parses; this file walks its token tree and writes only tags
 * Telegram knows, so whatever the model wrote, the result parses: raw HTML in the input becomes
 * visible text, and constructs Telegram has no tag for become text layouts:
 *
 * - headings → a bold line; horizontal rules → a `———` line;
 * - lists → `• ` / `◦ ` / `▪ ` or `1. ` lines, nested lists indented by three spaces per level;
 * - tables → a `<pre>` block with aligned columns when it is narrow enough for a phone, otherwise
 *   one block per row (`<b>first cell</b>` then `header: cell` lines);
 * - images → a link to the image (its alt text as the label);
 * - nested blockquotes → one blockquote (Telegram does not nest them).
 *
 * Single newlines inside a paragraph are kept as newlines (not joined with a space as CommonMark
 * would): in a chat, a model's line break is meant to be seen. Text is never reordered or
 * normalised, so right-to-left text, ZWNJ and bidi marks pass through as the model wrote them.
 */
import MarkdownIt from 'markdown-it';
import { escapeAttribute, escapeHtml } from './telegram-html';

type Token = MarkdownIt.Token;

// html: false makes markdown-it emit raw HTML as text, which is then escaped like any text.
const markdown = new MarkdownIt('default', { html: false, linkify: false, typographer: false });

/** Link targets Telegram opens; anything else (relative paths, `javascript:`, `data:` …) becomes plain text. */
const ALLOWED_HREF = /^(?:https?:\/\/|tg:|mailto:)/i;
const BULLETS = ['•', '◦', '▪'] as const;
/** Added in front of each line of a nested list or of an item's continuation lines. */
const LIST_INDENT = '   ';
/** A table whose aligned lines are wider than this becomes one block per row (phones wrap wider `<pre>`). */
const MAX_TABLE_WIDTH = 48;
const HORIZONTAL_RULE = '———';

/** A token and the tokens between it and its closing token. */
interface TokenNode {
  readonly token: Token;
  readonly children: TokenTree;
}
type TokenTree = (TokenNode | Token)[];

/** A token attribute as a string ('' when absent; markdown-it types values as `string | number`). */
function attribute(token: Token, name: string): string {
  return String(token.attrGet(name) ?? '');
}

function isNode(item: TokenNode | Token): item is TokenNode {
  return 'children' in item && 'token' in item;
}

/** Nests markdown-it's flat open/close token list (block level, or an inline token's children). */
function buildTree(tokens: readonly Token[]): TokenTree {
  const root: TokenTree = [];
  const stack: TokenTree[] = [root];
  for (const token of tokens) {
    const current = stack[stack.length - 1] ?? root;
    if (token.nesting === 1) {
      const node: TokenNode = { token, children: [] };
      current.push(node);
      stack.push(node.children);
    } else if (token.nesting === -1) {
      if (stack.length > 1) stack.pop();
    } else {
      current.push(token);
    }
  }
  return root;
}

interface BlockContext {
  /** Written after every newline of text blocks (list nesting). The first line is indented by the container. */
  readonly indent: string;
  readonly inQuote: boolean;
  readonly listDepth: number;
}

interface RenderedBlock {
  readonly html: string;
  /** `pre` and `quote` blocks are never indented: indentation would change code, and Telegram shows them as boxes. */
  readonly kind: 'text' | 'pre' | 'quote';
}

interface InlineContext {
  readonly indent: string;
  /** Inside a link Telegram allows no other link and no code, so those become text. */
  readonly inLink: boolean;
}

/**
 * Renders model Markdown as Telegram HTML. The result contains only Telegram's tags, escapes `<`,
 * `>` and `&` everywhere (and `"` in attributes), and is properly nested; it may be longer than a
 * message (see `splitForTelegram`). Empty or blank input gives `''`.
 *
 * @example markdownToTelegramHtml('**Hi** `a<b`') // '<b>Hi</b> <code>a&lt;b</code>'
 */
export function markdownToTelegramHtml(source: string): string {
  // Most chat answers are a line of plain text: nothing for the parser to find, only HTML to escape.
  if (isPlainLine(source)) return escapeHtml(source);
  return renderMarkdown(source);
}

/**
 * Characters that can start Markdown syntax anywhere in a line (emphasis, code, links, escapes,
 * entities, autolinks, strikethrough, tables, headings), and line breaks.
 */
const MARKDOWN_ANYWHERE = /[\0\n\r\\`*_[\]<>&~|#]/;
/** Syntax at the start of a line: quotes, list items, setext/thematic breaks, ordered lists. */
const MARKDOWN_AT_START = /^(?:[>+=-]|\d{1,9}[.)])/;

/**
 * One line markdown-it would render as a single paragraph of its own text: no syntax character,
 * no surrounding whitespace (which it would trim, or read as an indented code block).
 */
export function isPlainLine(source: string): boolean {
  return (
    source !== '' && source.trim() === source && !MARKDOWN_ANYWHERE.test(source) && !MARKDOWN_AT_START.test(source)
  );
}

/** The full conversion through markdown-it (what `markdownToTelegramHtml` does for any Markdown). */
export function renderMarkdown(source: string): string {
  const tree = buildTree(markdown.parse(source, {}));
  return renderBlocks(tree, { indent: '', inQuote: false, listDepth: 0 })
    .map((block) => block.html)
    .join('\n\n');
}

function renderBlocks(tree: TokenTree, context: BlockContext): RenderedBlock[] {
  const blocks: RenderedBlock[] = [];
  for (const item of tree) {
    blocks.push(...(isNode(item) ? renderContainer(item, context) : renderLeafBlock(item, context)));
  }
  return blocks;
}

function renderContainer(node: TokenNode, context: BlockContext): RenderedBlock[] {
  const { token, children } = node;
  switch (token.type) {
    case 'paragraph_open':
      return textBlock(renderInlineChildren(children, context));
    case 'heading_open': {
      const heading = renderInlineChildren(children, context);
      return heading === '' ? [] : [{ html: `<b>${heading}</b>`, kind: 'text' }];
    }
    case 'blockquote_open': {
      if (context.inQuote) return renderBlocks(children, context);
      const inner = renderBlocks(children, { indent: '', inQuote: true, listDepth: 0 });
      if (inner.length === 0) return [];
      return [{ html: `<blockquote>${inner.map((block) => block.html).join('\n\n')}</blockquote>`, kind: 'quote' }];
    }
    case 'bullet_list_open':
    case 'ordered_list_open':
      return textBlock(renderList(node, context));
    case 'table_open':
      return [renderTable(node, context)];
    default:
      // Containers markdown-it does not produce with this configuration: keep their content.
      return renderBlocks(children, context);
  }
}

function textBlock(html: string): RenderedBlock[] {
  return html === '' ? [] : [{ html, kind: 'text' }];
}

function renderLeafBlock(token: Token, context: BlockContext): RenderedBlock[] {
  switch (token.type) {
    case 'inline':
      return textBlock(renderInline(token.children ?? [], { indent: context.indent, inLink: false }));
    case 'fence':
    case 'code_block': {
      const code = token.content.replace(/\n$/, '');
      if (code.trim() === '') return [];
      const language = token.type === 'fence' ? codeLanguage(token.info) : '';
      const inner = escapeHtml(code);
      const html =
        language === '' ? `<pre>${inner}</pre>` : `<pre><code class="language-${language}">${inner}</code></pre>`;
      return [{ html, kind: 'pre' }];
    }
    case 'hr':
      return [{ html: HORIZONTAL_RULE, kind: 'text' }];
    case 'html_block':
      // Only reachable if raw HTML were enabled; shown as text, never passed through.
      return textBlock(indentLines(escapeHtml(token.content.replace(/\n+$/, '')), context.indent));
    default:
      return [];
  }
}

/** The first word of a fence's info string, reduced to characters safe in a class name (`c++`, `c#`, `objective-c`). */
function codeLanguage(info: string): string {
  const word = info.trim().split(/\s+/)[0] ?? '';
  return word
    .replace(/[^\w#+.-]/g, '')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 32);
}

function indentLines(text: string, indent: string): string {
  return indent === '' ? text : text.replace(/\n/g, `\n${indent}`);
}

function renderInlineChildren(children: TokenTree, context: BlockContext): string {
  let html = '';
  for (const item of children) {
    if (!isNode(item) && item.type === 'inline') {
      html += renderInline(item.children ?? [], { indent: context.indent, inLink: false });
    }
  }
  return html;
}

function renderList(node: TokenNode, context: BlockContext): string {
  const ordered = node.token.type === 'ordered_list_open';
  const start = Number(node.token.attrGet('start') ?? 1);
  const bullet = BULLETS[context.listDepth % BULLETS.length] ?? '•';
  const items = node.children.filter(isNode);
  // markdown-it hides the paragraphs of tight lists; a loose list gets a blank line between items.
  const tight = items.some((item) => item.children.some((child) => isNode(child) && child.token.hidden));
  const itemIndent = context.indent + LIST_INDENT;
  const lines: string[] = [];
  items.forEach((item, index) => {
    const marker = ordered ? `${Number.isFinite(start) ? start + index : index + 1}.` : bullet;
    const blocks = renderBlocks(item.children, {
      indent: itemIndent,
      inQuote: context.inQuote,
      listDepth: context.listDepth + 1,
    });
    let html = marker;
    blocks.forEach((block, blockIndex) => {
      if (blockIndex === 0) html += ` ${block.html}`;
      else html += `\n${block.kind === 'text' ? itemIndent : ''}${block.html}`;
    });
    lines.push(index === 0 ? html : `${context.indent}${html}`);
  });
  return lines.join(tight ? '\n' : '\n\n');
}

type Alignment = 'left' | 'right' | 'center';

interface TableCell {
  readonly html: string;
  readonly text: string;
  readonly alignment: Alignment;
}

function renderTable(node: TokenNode, context: BlockContext): RenderedBlock {
  const rows: TableCell[][] = [];
  const collectRows = (tree: TokenTree): void => {
    for (const item of tree) {
      if (!isNode(item)) continue;
      if (item.token.type === 'tr_open') {
        rows.push(
          item.children.filter(isNode).map((cell) => {
            const inline = cell.children.find((child): child is Token => !isNode(child) && child.type === 'inline');
            const tokens = inline?.children ?? [];
            const style = attribute(cell.token, 'style');
            const alignment: Alignment = style.includes('right')
              ? 'right'
              : style.includes('center')
                ? 'center'
                : 'left';
            return {
              html: renderInline(tokens, { indent: context.indent, inLink: false }),
              text: inlinePlainText(tokens).replace(/\s+/g, ' ').trim(),
              alignment,
            };
          }),
        );
      } else {
        collectRows(item.children);
      }
    }
  };
  collectRows(node.children);
  const [header = [], ...body] = rows;
  const columnCount = Math.max(...rows.map((row) => row.length), 0);
  const widths = Array.from({ length: columnCount }, (_, column) =>
    Math.max(...rows.map((row) => displayWidth(row[column]?.text ?? '')), 1),
  );
  const separator = ' │ ';
  const tableWidth = widths.reduce((sum, width) => sum + width, 0) + separator.length * (columnCount - 1);
  if (tableWidth <= MAX_TABLE_WIDTH || body.length === 0) {
    const line = (row: readonly TableCell[]): string =>
      widths
        .map((width, column) => pad(row[column]?.text ?? '', width, row[column]?.alignment ?? 'left'))
        .join(separator)
        .trimEnd();
    const rule = widths.map((width) => '─'.repeat(width)).join('─┼─');
    const lines = [line(header), rule, ...body.map(line)];
    return { html: `<pre>${escapeHtml(lines.join('\n'))}</pre>`, kind: 'pre' };
  }
  // Too wide for aligned columns: one block per row, the first cell as its title.
  const records = body.map((row) => {
    const lines: string[] = [];
    row.forEach((cell, column) => {
      if (column === 0) {
        if (cell.text !== '') lines.push(`<b>${cell.html}</b>`);
        return;
      }
      if (cell.text === '') return;
      const label = header[column]?.html ?? '';
      lines.push(label === '' ? cell.html : `${label}: ${cell.html}`);
    });
    return lines.join(`\n${context.indent}`);
  });
  return { html: records.filter((record) => record !== '').join(`\n\n${context.indent}`), kind: 'text' };
}

/** Columns a terminal-like monospace font gives the text: marks and format characters take none, wide East Asian characters and emoji two. */
function displayWidth(text: string): number {
  let width = 0;
  for (const character of text) {
    if (/[\p{M}\p{Cf}]/u.test(character)) continue;
    width +=
      /[\p{Extended_Pictographic}\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/u.test(
        character,
      )
        ? 2
        : 1;
  }
  return width;
}

function pad(text: string, width: number, alignment: Alignment): string {
  const missing = Math.max(width - displayWidth(text), 0);
  if (alignment === 'right') return ' '.repeat(missing) + text;
  if (alignment === 'center') {
    const left = Math.floor(missing / 2);
    return ' '.repeat(left) + text + ' '.repeat(missing - left);
  }
  return text + ' '.repeat(missing);
}

const INLINE_TAGS: Readonly<Record<string, string>> = { strong_open: 'b', em_open: 'i', s_open: 's' };

function renderInline(tokens: readonly Token[], context: InlineContext): string {
  return renderInlineTree(buildTree(tokens), context);
}

function renderInlineTree(tree: TokenTree, context: InlineContext): string {
  let html = '';
  for (const item of tree) {
    if (!isNode(item)) {
      html += renderInlineLeaf(item, context);
    } else if (item.token.type === 'link_open') {
      html += renderLink(item, context);
    } else {
      const tag = INLINE_TAGS[item.token.type];
      const inner = renderInlineTree(item.children, context);
      html += tag !== undefined && inner !== '' ? `<${tag}>${inner}</${tag}>` : inner;
    }
  }
  return html;
}

function renderLink(node: TokenNode, context: InlineContext): string {
  const href = attribute(node.token, 'href');
  if (context.inLink || !ALLOWED_HREF.test(href)) return renderInlineTree(node.children, context);
  // Telegram allows no link and no code inside a link: the label is rendered without them.
  const label = renderInlineTree(node.children, { ...context, inLink: true });
  const shown = inlinePlainText(flatten(node.children)).trim() === '' ? escapeHtml(href) : label;
  return `<a href="${escapeAttribute(href)}">${shown}</a>`;
}

function renderInlineLeaf(token: Token, context: InlineContext): string {
  switch (token.type) {
    case 'text':
    case 'text_special':
    case 'html_inline':
      return indentLines(escapeHtml(token.content), context.indent);
    case 'softbreak':
    case 'hardbreak':
      return `\n${context.indent}`;
    case 'code_inline':
      if (token.content === '') return '';
      return context.inLink ? escapeHtml(token.content) : `<code>${escapeHtml(token.content)}</code>`;
    case 'image': {
      const source = attribute(token, 'src');
      const alt = inlinePlainText(token.children ?? []).trim();
      if (context.inLink || !ALLOWED_HREF.test(source)) return escapeHtml(alt);
      return `<a href="${escapeAttribute(source)}">${escapeHtml(alt === '' ? source : alt)}</a>`;
    }
    default:
      return escapeHtml(token.content);
  }
}

function flatten(tree: TokenTree): Token[] {
  return tree.flatMap((item) => (isNode(item) ? [item.token, ...flatten(item.children)] : [item]));
}

/** The visible text of inline tokens, for `<pre>` tables and image labels. */
function inlinePlainText(tokens: readonly Token[]): string {
  let text = '';
  for (const token of tokens) {
    if (token.type === 'softbreak' || token.type === 'hardbreak') text += ' ';
    else if (token.type === 'image') text += inlinePlainText(token.children ?? []);
    else if (token.nesting === 0) text += token.content;
  }
  return text;
}
