/** Small measuring and formatting helpers shared by the benchmarks. */
import {
  type ChatRequest,
  type ChatResult,
  percentile,
  type ProviderAdapter,
  type ProviderDescriptor,
} from '../providers';

/** Real providers keep connections alive; the fake's default (1 s) is below Node fetch's 2 s reuse margin. */
export const KEEP_ALIVE_MS = 10_000;

/**
 * The core's nearest-rank percentile (`fraction` in 0–1), NaN for no values: the benchmarks'
 * figures are numbers, and an empty phase shows as NaN in their reports.
 */
export function percentileOrNaN(values: readonly number[], fraction: number): number {
  return percentile(values, fraction) ?? Number.NaN;
}

export function median(values: readonly number[]): number {
  return percentileOrNaN(values, 0.5);
}

/** A deterministic PRNG (mulberry32): the same seed gives the same demand in every run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export function formatNumber(value: number, digits = 2): string {
  if (!Number.isFinite(value)) return String(value);
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function formatPercent(fraction: number, digits = 2): string {
  return `${formatNumber(fraction * 100, digits)} %`;
}

/** Renders rows as a plain-text table with aligned columns. */
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd();
  const rule = widths.map((width) => '─'.repeat(width)).join('  ');
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/**
 * An adapter that answers in-process, without HTTP: a fixed short answer, or what `complete`
 * decides per request (to refuse it, say). Streams are not used by the benches that take it.
 */
export function inProcessAdapter(
  descriptor: ProviderDescriptor,
  complete?: (answer: ChatResult, request: ChatRequest, apiKey: string) => Promise<ChatResult>,
): ProviderAdapter {
  const answer: ChatResult = {
    text: 'ok',
    finishReason: 'stop',
    rawFinishReason: 'stop',
    usage: { inputTokens: 12, outputTokens: 1, totalTokens: 13 },
    model: descriptor.defaultModel,
    latencyMs: 0,
    rateLimits: undefined,
  };
  return {
    name: descriptor.name,
    model: descriptor.defaultModel,
    complete: complete === undefined ? async () => answer : (request, apiKey) => complete(answer, request, apiKey),
    stream: () => {
      throw new Error('not used');
    },
  };
}
