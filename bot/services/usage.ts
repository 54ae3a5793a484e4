import { nextQuotaDayStart, quotaDay } from '../../providers';
import type { StatsStore } from '../../providers';
import type { CounterStore } from '../../storage';

/**
 * A user's own use of the bot: what `/usage` shows. Today's requests come from the stats store,
 * which counts every provider-costing request a user made (`recordUserRequest`, in
 * `bot/features/limits.ts`), so nothing extra is counted per message; this minute's from the
 * rate limiter's counter; today's media requests and seconds of audio from their budgets' counters
 * (`reserveMedia`, in `bot/features/limits.ts`). Days are UTC days, as `USER_DAILY_LIMIT` counts.
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
  /** Media requests today, and their daily limit (0: none). */
  readonly mediaToday: number;
  readonly mediaLimit: number;
  /** Seconds of audio transcribed today, and their daily limit (0: none). */
  readonly audioSecondsToday: number;
  readonly audioSecondsLimit: number;
}

export interface UsageLimits {
  readonly perMinute: number;
  readonly perDay: number;
  readonly mediaPerDay: number;
  readonly audioSecondsPerDay: number;
}

/** The counter of a user's provider-costing requests on a UTC day. */
export function dailyCounterKey(day: string, userId: string): string {
  return `daily:${day}:${userId}`;
}

/** The counter of a user's media requests on a UTC day (`USER_DAILY_MEDIA_LIMIT`). */
export function mediaCounterKey(day: string, userId: string): string {
  return `media:${day}:${userId}`;
}

/** The counter of the seconds of audio a user had transcribed on a UTC day (`USER_DAILY_AUDIO_SECONDS`). */
export function audioCounterKey(day: string, userId: string): string {
  return `audio:${day}:${userId}`;
}

/** The counter of a user's messages in the current minute window (the rate limiter's). */
export function minuteCounterKey(userId: string): string {
  return `rate:${userId}`;
}

export async function readUserUsage(
  stores: { readonly stats: StatsStore; readonly counters: CounterStore },
  userId: string,
  limits: UsageLimits,
  now: number,
): Promise<UserUsage> {
  const day = quotaDay(now, 'UTC');
  const [requestsToday, requestsThisMinute, mediaToday, audioSecondsToday] = await Promise.all([
    stores.stats.userRequests(userId, day),
    limits.perMinute > 0 ? stores.counters.peek(minuteCounterKey(userId), now) : Promise.resolve(0),
    stores.counters.peek(mediaCounterKey(day, userId), now),
    stores.counters.peek(audioCounterKey(day, userId), now),
  ]);
  // The minute's counter also counts what the limit refused, which cost nothing: show what was served.
  return {
    requestsToday,
    dailyLimit: limits.perDay,
    requestsThisMinute: Math.min(requestsThisMinute, limits.perMinute),
    perMinute: limits.perMinute,
    minutesToReset: Math.max(1, Math.ceil((nextQuotaDayStart(now, 'UTC') - now) / 60_000)),
    mediaToday,
    mediaLimit: limits.mediaPerDay,
    audioSecondsToday,
    audioSecondsLimit: limits.audioSecondsPerDay,
  };
}
