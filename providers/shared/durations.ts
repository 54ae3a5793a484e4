/**
 * Parsers for the ways providers announce "when": `retry-after` seconds or HTTP dates, Go-style
 * durations (`2m59.56s`, `7.66s`, `120ms`), float seconds, and "try again in 4.77s" in messages.
 * All return milliseconds, or `undefined` when the input says nothing usable.
 */

const DURATION_PART = /(\d+(?:\.\d+)?)(ms|h|m|s)/g;

/** `2m59.56s` → 179560, `7.66s` → 7660, `1h2m` → 3720000, `38.2s` → 38200, `12` → 12000. */
export function parseDurationMs(value: string | null | undefined): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (text === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  let total = 0;
  let consumed = '';
  for (const match of text.matchAll(DURATION_PART)) {
    const amount = Number(match[1]);
    const unit = match[2];
    consumed += match[0];
    total += unit === 'h' ? amount * 3_600_000 : unit === 'm' ? amount * 60_000 : unit === 's' ? amount * 1000 : amount;
  }
  if (consumed.length !== text.length) return undefined;
  return Math.round(total);
}

/** A `retry-after` header: delta-seconds or an HTTP date. */
export function parseRetryAfterHeader(value: string | null | undefined, now: number): number | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  const seconds = parseDurationMs(value);
  if (seconds !== undefined) return seconds;
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** "…Please try again in 4.77s." / "Please retry in 38.2s" / "try again in 2m59.5s" inside an error message. */
export function parseRetryHintFromMessage(message: string): number | undefined {
  const match = /(?:try again|retry) in ([0-9hms.]+?)(?:[.,;)\s]|$)/i.exec(message);
  return match?.[1] === undefined ? undefined : parseDurationMs(match[1]);
}

export function parseFiniteNumber(value: string | null | undefined): number | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  const number = Number(value);
  return Number.isFinite(number) ? number : undefined;
}
