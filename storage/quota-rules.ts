/**
 * The admission arithmetic shared by the in-memory quota store and the documentation of the Redis
 * Lua script (storage/redis/quota.lua implements the same rules; the contract suite holds both to
 * them). Pure functions over plain numbers.
 */
import type { KeyLimits } from '../providers/types';
import type { BlockReason } from '../providers/ports';

export const MINUTE_MS = 60_000;
/**
 * A request stays in its key's sliding window this long after the router reserved it. The
 * provider's own window starts when the request arrives, a little later than the reservation, so
 * reusing a slot exactly a minute later would meet a 429 ("try again in 0.001s"); the margin
 * covers the trip and costs under 0.5 % of a per-minute limit.
 */
export const SLOT_MARGIN_MS = 250;
export const SLOT_WINDOW_MS = MINUTE_MS + SLOT_MARGIN_MS;
/** The sliding hour of `tokensPerHour` is counted in one-minute buckets: this many of them. */
export const HOUR_BUCKETS = 60;

/** The hour bucket of a time: its minute since the epoch. */
export function hourBucketOf(at: number): number {
  return Math.floor(at / MINUTE_MS);
}

/** Limits learned from headers win over configured ones: the provider's word is the truth. */
export function effectiveLimits(configured: KeyLimits, learned: KeyLimits): KeyLimits {
  return {
    requestsPerMinute: learned.requestsPerMinute ?? configured.requestsPerMinute,
    requestsPerDay: learned.requestsPerDay ?? configured.requestsPerDay,
    tokensPerMinute: learned.tokensPerMinute ?? configured.tokensPerMinute,
    tokensPerDay: learned.tokensPerDay ?? configured.tokensPerDay,
    tokensPerHour: configured.tokensPerHour,
    requestsPerMonth: learned.requestsPerMonth ?? configured.requestsPerMonth,
  };
}

export interface WindowEntry {
  readonly at: number;
  readonly tokens: number;
  /** 1 for a request, 0 for tokens someone else spent (learned from headers). */
  readonly requests: number;
}

export interface KeyWindows {
  /** Entries of the last minute, oldest first (read only to say when a refused key frees up). */
  readonly minute: readonly WindowEntry[];
  /** Σ requests and Σ tokens of `minute`, kept as running totals by the store. */
  readonly requestsLastMinute: number;
  readonly tokensLastMinute: number;
  readonly requestsToday: number;
  readonly tokensToday: number;
  /**
   * Tokens per one-minute bucket (`hourBucketOf`) of the last hour, oldest first; read only under
   * a `tokensPerHour` limit. A bucket counts while it is one of the last `HOUR_BUCKETS` minutes.
   */
  readonly hour?: readonly { readonly bucket: number; readonly tokens: number }[];
  readonly requestsThisMonth: number;
}

/** The quota month of a quota day: `2026-11` of `2026-11-26` (a monthly limit resets when it changes). */
export function quotaMonth(day: string): string {
  return day.slice(0, 7);
}

export type Verdict =
  | { readonly admissible: true; readonly score: readonly number[] }
  | { readonly admissible: false; readonly reason: BlockReason; readonly until: number | undefined };

const has = (limit: number | undefined): limit is number => limit !== undefined && limit > 0;

/**
 * Decides whether one more request of `tokens` fits the key's windows, and if not, when it will.
 * The score orders admissible keys: least used share of the month (under a monthly limit), then
 * of the day (so load spreads evenly and keys with more headroom are preferred), then least used
 * share of the minute.
 */
export function judge(
  limits: KeyLimits,
  windows: KeyWindows,
  tokens: number,
  now: number,
  windowMs = SLOT_WINDOW_MS,
): Verdict {
  const { minute } = windows;
  if (has(limits.tokensPerMinute) && tokens > limits.tokensPerMinute) {
    return { admissible: false, reason: 'too_large', until: undefined };
  }
  if (has(limits.requestsPerMonth) && windows.requestsThisMonth + 1 > limits.requestsPerMonth) {
    return { admissible: false, reason: 'monthly', until: undefined };
  }
  if (has(limits.requestsPerDay) && windows.requestsToday + 1 > limits.requestsPerDay) {
    return { admissible: false, reason: 'rpd', until: undefined };
  }
  if (has(limits.tokensPerDay) && windows.tokensToday + tokens > limits.tokensPerDay) {
    return { admissible: false, reason: 'tpd', until: undefined };
  }
  if (has(limits.tokensPerHour)) {
    if (tokens > limits.tokensPerHour) return { admissible: false, reason: 'too_large', until: undefined };
    const current = hourBucketOf(now);
    const live = (windows.hour ?? []).filter((entry) => entry.bucket > current - HOUR_BUCKETS);
    let remaining = live.reduce((sum, entry) => sum + entry.tokens, 0);
    if (remaining + tokens > limits.tokensPerHour) {
      // Room once enough of the oldest buckets have left the hour.
      let until = (current + 1) * MINUTE_MS;
      for (const entry of live) {
        remaining -= entry.tokens;
        if (remaining + tokens <= limits.tokensPerHour) {
          until = (entry.bucket + HOUR_BUCKETS) * MINUTE_MS;
          break;
        }
      }
      return { admissible: false, reason: 'tph', until };
    }
  }
  const { requestsLastMinute, tokensLastMinute } = windows;
  if (has(limits.requestsPerMinute) && requestsLastMinute + 1 > limits.requestsPerMinute) {
    // Room for one more when enough of the oldest entries have left the window.
    let remaining = requestsLastMinute;
    let until = now + windowMs;
    for (const entry of minute) {
      remaining -= entry.requests;
      if (remaining + 1 <= limits.requestsPerMinute) {
        until = entry.at + windowMs;
        break;
      }
    }
    return { admissible: false, reason: 'rpm', until };
  }
  if (has(limits.tokensPerMinute) && tokensLastMinute + tokens > limits.tokensPerMinute) {
    let remaining = tokensLastMinute;
    let until = now + windowMs;
    for (const entry of minute) {
      remaining -= entry.tokens;
      if (remaining + tokens <= limits.tokensPerMinute) {
        until = entry.at + windowMs;
        break;
      }
    }
    return { admissible: false, reason: 'tpm', until };
  }
  const share = (used: number, limit: number | undefined): number => (has(limit) ? used / limit : 0);
  return {
    admissible: true,
    score: [
      share(windows.requestsThisMonth, limits.requestsPerMonth),
      has(limits.requestsPerDay) ? share(windows.requestsToday, limits.requestsPerDay) : windows.requestsToday / 1e9,
      share(requestsLastMinute, limits.requestsPerMinute),
      share(tokensLastMinute, limits.tokensPerMinute),
    ],
  };
}

export function compareScores(a: readonly number[], b: readonly number[]): number {
  for (let index = 0; index < Math.max(a.length, b.length); index++) {
    const difference = (a[index] ?? 0) - (b[index] ?? 0);
    if (difference !== 0) return difference;
  }
  return 0;
}
