import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { countTokens } from '../../providers';
import type { PdfTextJob, PdfTextReply } from './pdf-text-worker';

/**
 * A PDF's text for models that take text only: its text layer, read by pdf.js (unpdf's serverless
 * build, docs/architecture.md) in a worker thread, cleaned, and capped by tokens.
 *
 * The worker has a memory limit and a time limit and at most `MAX_CONCURRENT_READS` run at once:
 * a PDF built to exhaust a parser (a deflate bomb, a page tree a million deep) ends its worker and
 * gets a message; the bot goes on. Tokens are counted as the router counts them (gpt-tokenizer's
 * r50k, which over-counts Persian), so a capped text is admitted by every model the router sends
 * text to.
 */

export interface PdfTextLimits {
  /** Pages read at most, from the first. */
  readonly maxPages: number;
  /** Tokens of text kept at most; the rest is cut (`PdfText.cut`). */
  readonly maxTokens: number;
  /** How long one PDF may take to read. */
  readonly timeoutMs: number;
  /**
   * The worker's heap, and how far the process's resident memory may grow while it reads: pdf.js
   * inflates streams into buffers outside the heap (a 600 KB PDF can inflate to gigabytes).
   */
  readonly maxMemoryMb: number;
}

export const PDF_TEXT_LIMITS: PdfTextLimits = {
  maxPages: 100,
  // The smallest free chat model admits 12,000 tokens a minute, of which the answer reserves 2,048:
  // 6,000 leaves room for the system prompt, the caption and some history (docs/providers.md).
  maxTokens: 6_000,
  timeoutMs: 20_000,
  // PM2 restarts the bot past 300 MB (ecosystem.config.cjs) and the bot itself lives at about
  // 150 MB: a reader may add 128 MB (two at once are watched against the same process total).
  maxMemoryMb: 128,
};

export interface PdfText {
  /** The text read, cleaned and capped. Never empty. */
  readonly text: string;
  /** Pages in the document. */
  readonly pages: number;
  /** The last page whose text is (at least partly) in `text`. */
  readonly lastPage: number;
  /** Whether the document holds text that is not in `text` (cut at the token cap, or pages not read). */
  readonly cut: boolean;
  readonly tokens: number;
}

/**
 * Why a PDF gave no text: it has no text layer (a scan), needs a password, could not be parsed,
 * or was too large or complex to read within the worker's limits.
 */
export type PdfTextFailure = 'no_text' | 'encrypted' | 'unreadable' | 'too_complex';

export class PdfTextError extends Error {
  override readonly name = 'PdfTextError';

  constructor(
    readonly reason: PdfTextFailure,
    message: string,
  ) {
    super(message);
  }
}

export function isPdfTextError(error: unknown): error is PdfTextError {
  return error instanceof Error && error.name === 'PdfTextError' && typeof (error as PdfTextError).reason === 'string';
}

/** Workers reading at once; more wait for a free one (each holds a copy of its PDF and pdf.js). */
const MAX_CONCURRENT_READS = 2;
/** Characters a worker reads before it stops: well over what `maxTokens` keeps (a token is rarely 6 characters). */
const CHARS_PER_TOKEN_READ = 6;

let reading = 0;
const waiting: (() => void)[] = [];

async function slot(): Promise<() => void> {
  if (reading >= MAX_CONCURRENT_READS) await new Promise<void>((resolve) => waiting.push(resolve));
  else reading += 1;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const next = waiting.shift();
    if (next === undefined) reading -= 1;
    else next();
  };
}

const MB = 1024 * 1024;
/** How often the process's memory is looked at while a worker reads. */
const MEMORY_CHECK_MS = 25;

/** The worker's script, built beside this file (`npm run build` compiles both). */
const WORKER_SCRIPT = path.join(__dirname, 'pdf-text-worker.js');

/** The text of a PDF, read in a worker; throws `PdfTextError` when there is none to give. */
export async function extractPdfText(data: Uint8Array, limits: PdfTextLimits = PDF_TEXT_LIMITS): Promise<PdfText> {
  const release = await slot();
  let reply: PdfTextReply;
  try {
    reply = await runWorker(
      { data, maxPages: limits.maxPages, maxChars: limits.maxTokens * CHARS_PER_TOKEN_READ },
      limits,
    );
  } finally {
    release();
  }
  if (!reply.ok) {
    throw new PdfTextError(reply.reason, `the PDF could not be read (${reply.reason}: ${reply.detail})`);
  }
  const capped = capByTokens(reply.texts.map(cleanPdfText), limits.maxTokens);
  if (capped.text === '') throw new PdfTextError('no_text', 'the PDF has no text layer');
  return { ...capped, pages: reply.pages, cut: capped.cut || reply.texts.length < reply.pages };
}

function runWorker(job: PdfTextJob, limits: PdfTextLimits): Promise<PdfTextReply> {
  return new Promise((resolve) => {
    const worker = new Worker(WORKER_SCRIPT, {
      workerData: job,
      resourceLimits: { maxOldGenerationSizeMb: limits.maxMemoryMb, maxYoungGenerationSizeMb: 16 },
      stdout: true,
      stderr: true,
    });
    let settled = false;
    const finish = (reply: PdfTextReply): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearInterval(watch);
      resolve(reply);
      void worker.terminate();
    };
    const timer = setTimeout(
      () => finish({ ok: false, reason: 'too_complex', detail: `took over ${limits.timeoutMs} ms` }),
      limits.timeoutMs,
    );
    // The heap limit does not hold buffers: the process's resident memory is watched as well.
    const baseline = process.memoryUsage.rss();
    const watch = setInterval(() => {
      if (process.memoryUsage.rss() - baseline > limits.maxMemoryMb * MB) {
        finish({ ok: false, reason: 'too_complex', detail: `used over ${limits.maxMemoryMb} MB` });
      }
    }, MEMORY_CHECK_MS);
    // pdf.js may still print; nothing of a user's PDF reaches the bot's logs.
    worker.stdout.resume();
    worker.stderr.resume();
    worker.once('message', (reply: PdfTextReply) => finish(reply));
    worker.once('error', (error) =>
      finish({
        ok: false,
        reason: 'code' in error && error.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'too_complex' : 'unreadable',
        detail: 'code' in error && typeof error.code === 'string' ? error.code : error.name,
      }),
    );
    worker.once('exit', (code) => finish({ ok: false, reason: 'unreadable', detail: `the reader exited (${code})` }));
  });
}

/** Runs of presentation forms (Arabic and Persian letters in their joined shapes, Latin ligatures such as ﬁ). */
const PRESENTATION_FORMS = /[\uFB00-\uFDFF\uFE70-\uFEFE]+/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point.
const CONTROL_CHARACTERS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/g;

/**
 * A page's text as a model should read it: letters in their joined or ligature shapes back to the
 * letters themselves (PDFs often map Persian glyphs to presentation forms), control characters
 * gone, runs of spaces one space, no space before a combining mark, no more than one blank line in
 * a row. (pdf.js leaves out zero-width characters, so Persian's zero-width non-joiner does not
 * reach here: می‌خواهم comes as میخواهم, which models read the same.)
 */
export function cleanPdfText(text: string): string {
  return (
    text
      .replace(PRESENTATION_FORMS, (run) => run.normalize('NFKC'))
      .replace(CONTROL_CHARACTERS, '')
      .replace(/[^\S\n]+/g, ' ')
      // pdf.js puts a space before a mark drawn on its own (the ezafe in صفحهٔ): a mark never starts a word.
      .replace(/ (?=\p{Mn})/gu, '')
      .replace(/ ?\n ?/g, '\n')
      .replace(/\n{3,}/g, '\n\n')
      .trim()
  );
}

/** Tokens of the blank line between two pages. */
const PAGE_BREAK_TOKENS = 1;

/**
 * The pages' text up to `maxTokens`: whole pages while they fit, then as much of the next page as
 * fits, cut after a word.
 */
export function capByTokens(
  pages: readonly string[],
  maxTokens: number,
): { text: string; lastPage: number; cut: boolean; tokens: number } {
  const kept: string[] = [];
  let tokens = 0;
  let lastPage = 0;
  for (const [index, page] of pages.entries()) {
    const separator = kept.length === 0 ? 0 : PAGE_BREAK_TOKENS;
    const pageTokens = countTokens(page);
    if (tokens + separator + pageTokens <= maxTokens) {
      if (page !== '') {
        kept.push(page);
        tokens += separator + pageTokens;
      }
      lastPage = index + 1;
      continue;
    }
    const part = longestPrefix(page, maxTokens - tokens - separator);
    if (part !== '') {
      kept.push(part);
      tokens += separator + countTokens(part);
      lastPage = index + 1;
    }
    return { text: kept.join('\n\n'), lastPage, cut: true, tokens };
  }
  return { text: kept.join('\n\n'), lastPage, cut: false, tokens };
}

/** The longest start of `text` of at most `maxTokens` tokens that ends after a word (binary search). */
function longestPrefix(text: string, maxTokens: number): string {
  if (maxTokens <= 0) return '';
  let low = 0;
  let high = text.length;
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if (countTokens(text.slice(0, middle)) <= maxTokens) low = middle;
    else high = middle - 1;
  }
  const prefix = text.slice(0, low);
  const lastSpace = prefix.search(/\s\S*$/);
  return (low < text.length && lastSpace > 0 ? prefix.slice(0, lastSpace) : prefix).trimEnd();
}
