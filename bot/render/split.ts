/**
 * Splitting a long answer into Telegram messages.
 *
 * What counts: Telegram limits a message to 4096 characters of text *after* entity parsing, that
 * is the visible text, counted in UTF-16 code units. We keep the *raw* HTML of each part, tags and
 * entities included, within the limit (JavaScript `string.length`, UTF-16 code units). The raw
 * length is never smaller than the visible length, so a part is always accepted, whichever way
 * Telegram counts; the price is a few more parts for tag-heavy text.
 *
 * Where we cut, in order of preference, taking the last such place that still fits, provided it
 * leaves the part at least half full: a paragraph break (two or more newlines), a line break, the
 * space after a sentence (`.` `!` `?` `…` `؟` `۔` `。` …), the space between words; failing all, we
 * cut after the last character that fits. A cut never falls inside a tag, an entity or a grapheme
 * cluster (so never inside a surrogate pair, an emoji sequence, or between a letter and its ZWNJ
 * or combining mark).
 *
 * What is dropped: exactly the whitespace we cut at — the run of newlines at a paragraph cut, the
 * one newline at a line cut, the run of spaces (or tabs) at a sentence or word cut; nothing at a
 * hard cut. Parts whose visible text would be only whitespace are left out (Telegram refuses an
 * empty message). Everything else of the visible text is kept, in order. Telegram itself trims
 * leading and trailing whitespace of each message, so the indentation at the start of a part may
 * not show.
 *
 * Every part is valid on its own: tags open at a cut are closed at the end of the part and opened
 * again, with their attributes, at the start of the next (`<pre><code class="language-ts">`).
 */
import { balanceHtmlPieces, escapeHtml, type HtmlPiece, readTelegramHtml } from './telegram-html';

/** Telegram's limit for a message text (and a caption is 1024). */
export const TELEGRAM_MESSAGE_LIMIT = 4096;
/** Below this a part could not hold one grapheme cluster (see MAX_CLUSTER_LENGTH) with its tags. */
const MIN_LIMIT = 32;
/** Longer clusters (a letter under dozens of combining marks) are split between code points. */
const MAX_CLUSTER_LENGTH = 32;

interface Unit {
  readonly kind: 'text' | 'open' | 'close';
  /** What the part contains for this unit: escaped text, or the tag as written. */
  readonly raw: string;
  /** Visible text ('' for tags). */
  readonly text: string;
  /** Tag name ('' for text). */
  readonly name: string;
}

interface Cut {
  /** Units [start, end) go into the part. */
  readonly end: number;
  /** The next part starts here; the units in [end, resume) are whitespace and are dropped. */
  readonly resume: number;
  /** Raw length of the part if cut here, closing tags included. */
  readonly length: number;
  /** Tags open at `end`. */
  readonly open: readonly Unit[];
}

type Boundary = 'paragraph' | 'line' | 'sentence' | 'word';
const PREFERENCE: readonly Boundary[] = ['paragraph', 'line', 'sentence', 'word'];

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

function clusters(text: string): string[] {
  const result: string[] = [];
  for (const { segment } of segmenter.segment(text)) {
    if (segment.length <= MAX_CLUSTER_LENGTH) result.push(segment);
    else result.push(...Array.from(segment));
  }
  return result;
}

function closingTag(unit: Unit): string {
  return `</${unit.name}>`;
}

function isNewline(unit: Unit | undefined): boolean {
  return unit?.kind === 'text' && (unit.text === '\n' || unit.text === '\r\n');
}

function isSpace(unit: Unit | undefined): boolean {
  return unit?.kind === 'text' && (unit.text === ' ' || unit.text === '\t');
}

const SENTENCE_END = /^[.!?…。！？؟۔।]$/u;
const CLOSING_PUNCTUATION = /^["'”’»)\]]$/u;

function endsSentence(units: readonly Unit[], before: number): boolean {
  let closers = 0;
  for (let index = before - 1; index >= 0; index--) {
    const unit = units[index];
    if (unit === undefined || unit.kind !== 'text') continue;
    if (SENTENCE_END.test(unit.text)) return true;
    if (!CLOSING_PUNCTUATION.test(unit.text) || ++closers > 2) return false;
  }
  return false;
}

/** The boundary a whitespace run starting at `index` offers, and where the text after it starts. */
function boundaryAt(units: readonly Unit[], index: number): { boundary: Boundary; resume: number } | undefined {
  const unit = units[index];
  if (isNewline(unit)) {
    if (isNewline(units[index - 1])) return undefined;
    let resume = index + 1;
    while (isNewline(units[resume])) resume++;
    return { boundary: resume - index >= 2 ? 'paragraph' : 'line', resume };
  }
  if (isSpace(unit)) {
    if (isSpace(units[index - 1])) return undefined;
    let resume = index + 1;
    while (isSpace(units[resume])) resume++;
    return { boundary: endsSentence(units, index) ? 'sentence' : 'word', resume };
  }
  return undefined;
}

interface Window {
  /** True when everything from `start` fits. */
  readonly complete: boolean;
  /** The best cut (undefined when not even one unit fits). */
  readonly cut: Cut | undefined;
}

/**
 * Reads units from `start` while the part still fits and picks where to cut. In `bare` mode tags
 * cost nothing and are left out (the fallback when a part's own tags leave no room for text).
 */
function scanWindow(
  units: readonly Unit[],
  start: number,
  open: readonly Unit[],
  limit: number,
  bare: boolean,
): Window {
  const stack = [...open];
  let length = bare ? 0 : open.reduce((sum, unit) => sum + unit.raw.length, 0);
  let closing = bare ? 0 : open.reduce((sum, unit) => sum + closingTag(unit).length, 0);
  const best: Partial<Record<Boundary, Cut>> = {};
  let seenText = false;
  let index = start;
  for (; index < units.length; index++) {
    const unit = units[index];
    if (unit === undefined) break;
    const isTag = unit.kind !== 'text';
    const cost = bare && isTag ? 0 : unit.raw.length;
    const closingAfter = bare || !isTag ? closing : closing + (unit.kind === 'open' ? 1 : -1) * closingTag(unit).length;
    // Opening a tag adds it and its closing tag, closing one moves its cost from `closing` to
    // `length`: the total never shrinks, so the first unit that does not fit ends the window.
    if (length + cost + closingAfter > limit) break;
    if (seenText && unit.kind === 'text') {
      const found = boundaryAt(units, index);
      if (found)
        best[found.boundary] = { end: index, resume: found.resume, length: length + closing, open: [...stack] };
    }
    length += cost;
    closing = closingAfter;
    if (unit.kind === 'open') stack.push(unit);
    else if (unit.kind === 'close') stack.pop();
    else if (/\S/u.test(unit.text)) seenText = true;
  }
  if (index === units.length) return { complete: true, cut: undefined };
  const preferred = PREFERENCE.map((boundary) => best[boundary]).find((cut) => cut && cut.length >= limit / 2);
  const hard = index > start ? { end: index, resume: index, length: length + closing, open: stack } : undefined;
  return { complete: false, cut: preferred ?? hard };
}

/** Removes elements that hold no text (`<b></b>`, left when a cut falls next to a tag). */
function withoutEmptyElements(units: readonly Unit[]): Unit[] {
  const result: Unit[] = [];
  const opened: { position: number; hasText: boolean }[] = [];
  for (const unit of units) {
    if (unit.kind === 'open') {
      opened.push({ position: result.length, hasText: false });
      result.push(unit);
    } else if (unit.kind === 'close') {
      const element = opened.pop();
      if (element && !element.hasText) {
        result.length = element.position;
        continue;
      }
      const parent = opened[opened.length - 1];
      if (parent) parent.hasText = true;
      result.push(unit);
    } else {
      const parent = opened[opened.length - 1];
      if (parent) parent.hasText = true;
      result.push(unit);
    }
  }
  return result;
}

function splitUnits(units: readonly Unit[], limit: number): string[] {
  if (!Number.isInteger(limit) || limit < MIN_LIMIT) {
    throw new RangeError(`limit must be an integer of at least ${MIN_LIMIT}, got ${limit}`);
  }
  const parts: string[] = [];
  const emit = (partUnits: readonly Unit[]): void => {
    const kept = withoutEmptyElements(partUnits);
    if (kept.some((unit) => unit.kind === 'text' && /\S/u.test(unit.text))) {
      parts.push(kept.map((unit) => unit.raw).join(''));
    }
  };
  const closers = (open: readonly Unit[]): Unit[] =>
    open.toReversed().map((unit) => ({ kind: 'close', raw: closingTag(unit), text: '', name: unit.name }));

  let start = 0;
  let open: readonly Unit[] = [];
  while (start < units.length) {
    const window = scanWindow(units, start, open, limit, false);
    if (window.complete) {
      emit([...open, ...units.slice(start)]);
      break;
    }
    if (window.cut) {
      emit([...open, ...units.slice(start, window.cut.end), ...closers(window.cut.open)]);
      start = window.cut.resume;
      open = window.cut.open;
      continue;
    }
    // The tags to reopen leave no room for text: this part goes without formatting.
    const bare = scanWindow(units, start, open, limit, true);
    const end = bare.cut?.end ?? units.length;
    emit(units.slice(start, end).filter((unit) => unit.kind === 'text'));
    const stack = [...open];
    for (const unit of units.slice(start, end)) {
      if (unit.kind === 'open') stack.push(unit);
      else if (unit.kind === 'close') stack.pop();
    }
    start = bare.cut?.resume ?? units.length;
    open = stack;
  }
  return parts;
}

/**
 * Splits Telegram HTML (such as `markdownToTelegramHtml` output) into messages of at most `limit`
 * characters of raw HTML each, every one valid on its own. See the file comment for what counts,
 * where it cuts and what whitespace is dropped. Blank input gives no parts. Input that is not
 * valid Telegram HTML is repaired on the way: a `<` or `&` that starts no tag or entity becomes
 * text, unmatched end tags are dropped and unclosed tags closed.
 */
export function splitForTelegram(html: string, limit = TELEGRAM_MESSAGE_LIMIT): string[] {
  const pieces = balanceHtmlPieces(readTelegramHtml(html));
  // Most answers fit in one message: then no cut is looked for, and each text piece can stay one
  // unit, without segmenting it into grapheme clusters (the part is the same either way).
  const whole = unitsOf(pieces, false);
  if (whole.reduce((length, unit) => length + unit.raw.length, 0) <= limit) return splitUnits(whole, limit);
  return splitUnits(unitsOf(pieces, true), limit);
}

/** `splitForTelegram` always segmenting text into grapheme clusters (to test the shortcut against). */
export function splitForTelegramSegmented(html: string, limit = TELEGRAM_MESSAGE_LIMIT): string[] {
  return splitUnits(unitsOf(balanceHtmlPieces(readTelegramHtml(html)), true), limit);
}

function unitsOf(pieces: readonly HtmlPiece[], segmented: boolean): Unit[] {
  const units: Unit[] = [];
  for (const piece of pieces) {
    if (piece.kind === 'open') units.push({ kind: 'open', raw: piece.raw, text: '', name: piece.name });
    else if (piece.kind === 'close') units.push({ kind: 'close', raw: `</${piece.name}>`, text: '', name: piece.name });
    else if (!segmented) units.push({ kind: 'text', raw: escapeHtml(piece.text), text: piece.text, name: '' });
    else
      for (const cluster of clusters(piece.text))
        units.push({ kind: 'text', raw: escapeHtml(cluster), text: cluster, name: '' });
  }
  return units;
}

/** Splits plain text into messages of at most `limit` UTF-16 code units, with the same cut rules. */
export function splitPlainText(text: string, limit = TELEGRAM_MESSAGE_LIMIT): string[] {
  return splitUnits(
    clusters(text).map((cluster) => ({ kind: 'text', raw: cluster, text: cluster, name: '' })),
    limit,
  );
}
