import { nextQuotaDayStart, quotaDay } from '../../providers';
import type { CounterStore } from '../../storage';

/**
 * A user's own use of the bot: what `/usage` shows, read from the same counters the per-user
 * limits count with (`bot/features/limits.ts`). Days are UTC days, as `USER_DAILY_LIMIT` counts.
 */
export interface UserUsage {
  readonly requestsToday: number;
  /** 0: no daily limit. */
  readonly dailyLimit: number;
  readonly requestsThisMinute: number;
  /** 0: no per-minute limit. */
  readonly perMinute: number;
  /** Minutes until the day's count starts again. */
  readonly minutesToReset: number;
}

/** The counter of a user's provider-costing requests on a UTC day. */
export function dailyCounterKey(day: string, userId: string): string {
  return `daily:${day}:${userId}`;
}

/** The counter of a user's messages in the current minute window (the rate limiter's). */
export function minuteCounterKey(userId: string): string {
  return `rate:${userId}`;
}

export async function readUserUsage(
  counters: CounterStore,
  userId: string,
  limits: { readonly perMinute: number; readonly perDay: number },
  now: number,
): Promise<UserUsage> {
  const [requestsToday, requestsThisMinute] = await Promise.all([
    counters.peek(dailyCounterKey(quotaDay(now, 'UTC'), userId), now),
    limits.perMinute > 0 ? counters.peek(minuteCounterKey(userId), now) : Promise.resolve(0),
  ]);
  // The counters also count what a limit refused, which cost nothing: show what was served.
  return {
    requestsToday: limits.perDay > 0 ? Math.min(requestsToday, limits.perDay) : requestsToday,
    dailyLimit: limits.perDay,
    requestsThisMinute: Math.min(requestsThisMinute, limits.perMinute),
    perMinute: limits.perMinute,
    minutesToReset: Math.max(1, Math.ceil((nextQuotaDayStart(now, 'UTC') - now) / 60_000)),
  };
}
