import { countTokens, isRouterError, type RouterError, type Router } from '../../providers';

export interface TranslationOutcome {
  readonly ok: boolean;
  /** The translation, or the original text when `ok` is false. */
  readonly text: string;
  /** Why the pool could not be asked at all (out of quota, providers down), when that was the reason. */
  readonly error?: RouterError;
}

export interface TranslateOptions {
  readonly signal?: AbortSignal;
}

const TRANSLATE_SYSTEM_PROMPT = [
  'You are a translation engine.',
  'The user sends a JSON object {"target": "<language>", "texts": ["…", …]}.',
  'Translate every text into the target language (a language name or code, as given).',
  'Reply with exactly one JSON object {"translations": ["…", …]}: one translation per text, in the same order,',
  'the same number of entries as there are texts. Keep numbers, names, emoji, URLs and formatting;',
  'never merge, split, skip or explain texts. Output the JSON object only.',
].join(' ');

export const TRANSLATE_BATCH_MAX_TEXTS = 20;
export const TRANSLATE_BATCH_MAX_CHARS = 3000;
const TRANSLATE_PARALLEL_BATCHES = 3;

/**
 * `translateMultipleTexts`, named as in the system this project replaces: many texts in few
 * requests, each answer validated, never a line shifted.
 */
export class Translator {
  constructor(private readonly router: Router) {}

  /**
   * Translates many texts in batches (by count and size), each one request in the wire format of
   * docs/architecture.md (translation), validated. A batch whose answer does not validate is split in half and retried; a
   * single text that still fails comes back with `ok: false` in its own place, so lines never shift.
   */
  async translateMultipleTexts(
    texts: readonly string[],
    target: string,
    options: TranslateOptions = {},
  ): Promise<TranslationOutcome[]> {
    const { signal } = options;
    const batches = makeBatches(texts.map((text, index) => ({ index, text })));
    const results: TranslationOutcome[] = texts.map((text) => ({ ok: false, text }));
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < batches.length) {
        const batch = batches[next++]!;
        for (const { index, outcome } of await this.translateBatch(batch, target, signal)) results[index] = outcome;
      }
    };
    await Promise.all(Array.from({ length: Math.min(TRANSLATE_PARALLEL_BATCHES, batches.length) }, worker));
    return results;
  }

  private async translateBatch(
    batch: readonly { index: number; text: string }[],
    target: string,
    signal: AbortSignal | undefined,
  ): Promise<{ index: number; outcome: TranslationOutcome }[]> {
    if (batch.length === 0) return [];
    let translations: string[] | undefined;
    try {
      translations = await this.requestTranslations(
        batch.map((item) => item.text),
        target,
        signal,
      );
    } catch (error) {
      // A refusal may concern one text: split to isolate it. Anything else (no capacity, outage,
      // cancelled) concerns the whole batch, and splitting would only burn more quota.
      if (!isRouterError(error)) throw error;
      if (error.kind !== 'content_filtered' || batch.length === 1) {
        return batch.map((item) => ({ index: item.index, outcome: { ok: false, text: item.text, error } }));
      }
    }
    if (translations !== undefined) {
      return batch.map((item, position) => ({
        index: item.index,
        outcome: { ok: true, text: translations[position]! },
      }));
    }
    if (batch.length === 1) return [{ index: batch[0]!.index, outcome: { ok: false, text: batch[0]!.text } }];
    const middle = Math.ceil(batch.length / 2);
    return [
      ...(await this.translateBatch(batch.slice(0, middle), target, signal)),
      ...(await this.translateBatch(batch.slice(middle), target, signal)),
    ];
  }

  /** One request; the translations when the answer validates, `undefined` when it does not. */
  private async requestTranslations(
    texts: readonly string[],
    target: string,
    signal: AbortSignal | undefined,
  ): Promise<string[] | undefined> {
    const payload = JSON.stringify({ target, texts });
    const result = await this.router.complete({
      messages: [
        { role: 'system', content: TRANSLATE_SYSTEM_PROMPT },
        { role: 'user', content: payload },
      ],
      json: true,
      temperature: 0,
      maxOutputTokens: Math.min(8192, 256 + countTokens(payload) * 3),
      ...(signal === undefined ? {} : { signal }),
    });
    const translations = parseTranslations(result.text, texts.length);
    // A blank translation of a text is a failure too: shown, it would read as a missing line.
    if (translations?.some((translation, index) => translation.trim() === '' && texts[index]?.trim() !== '')) {
      return undefined;
    }
    return translations;
  }
}

/** Groups texts into batches of at most TRANSLATE_BATCH_MAX_TEXTS texts and about TRANSLATE_BATCH_MAX_CHARS characters. */
export function makeBatches<T extends { text: string }>(items: readonly T[]): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const item of items) {
    if (
      current.length > 0 &&
      (current.length >= TRANSLATE_BATCH_MAX_TEXTS || size + item.text.length > TRANSLATE_BATCH_MAX_CHARS)
    ) {
      batches.push(current);
      current = [];
      size = 0;
    }
    current.push(item);
    size += item.text.length;
  }
  if (current.length > 0) batches.push(current);
  return balance(batches);
}

/** Evens out the last batches (25 texts → 13 + 12, not 20 + 5), so no request is needlessly tiny. */
function balance<T extends { text: string }>(batches: T[][]): T[][] {
  if (batches.length < 2) return batches;
  const total = batches.reduce((sum, batch) => sum + batch.length, 0);
  const sizeLimited = batches.some(
    (batch) => batch.reduce((sum, item) => sum + item.text.length, 0) > TRANSLATE_BATCH_MAX_CHARS / 2,
  );
  if (sizeLimited) return batches;
  const per = Math.ceil(total / batches.length);
  const flat = batches.flat();
  const balanced: T[][] = [];
  for (let index = 0; index < flat.length; index += per) balanced.push(flat.slice(index, index + per));
  return balanced;
}

/**
 * Validates a translation answer: one JSON object with `translations`, an array of exactly
 * `expected` strings. Tolerates a Markdown code fence or text around the object (models add
 * them), nothing else.
 */
export function parseTranslations(answer: string, expected: number): string[] | undefined {
  const start = answer.indexOf('{');
  const end = answer.lastIndexOf('}');
  if (start === -1 || end <= start) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(answer.slice(start, end + 1));
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const translations = (value as { translations?: unknown }).translations;
  if (!Array.isArray(translations) || translations.length !== expected) return undefined;
  if (!translations.every((entry): entry is string => typeof entry === 'string')) return undefined;
  return translations;
}
