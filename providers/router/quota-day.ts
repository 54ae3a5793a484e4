import type { DailyResetZone } from '../types';

/**
 * Providers reset daily quotas at midnight in their own time zone (some in Pacific time, most
 * others: UTC). The quota "day" of a moment is its calendar date in that zone.
 */
const formatters = new Map<DailyResetZone, Intl.DateTimeFormat>();

function formatter(zone: DailyResetZone): Intl.DateTimeFormat {
  let format = formatters.get(zone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' });
    formatters.set(zone, format);
  }
  return format;
}

/** `2026-11-26`: the quota day of `now` in `zone`. */
export function quotaDay(now: number, zone: DailyResetZone): string {
  if (zone === 'UTC') return new Date(now).toISOString().slice(0, 10);
  return formatter(zone).format(now);
}

const dayStarts = new Map<string, number>();

/** The first moment after `now` at which the quota day in `zone` changes (cached per zone and day). */
export function nextQuotaDayStart(now: number, zone: DailyResetZone): number {
  const today = quotaDay(now, zone);
  const cacheKey = `${zone}|${today}`;
  const cached = dayStarts.get(cacheKey);
  if (cached !== undefined && cached > now) return cached;
  const start = searchNextDayStart(now, zone, today);
  if (dayStarts.size > 64) dayStarts.clear();
  dayStarts.set(cacheKey, start);
  return Math.max(start, now + 1);
}

function searchNextDayStart(now: number, zone: DailyResetZone, today: string): number {
  // Midnight moves by at most a few hours against UTC: search forward hour by hour, then minute by minute.
  let hour = Math.floor(now / 3_600_000) * 3_600_000 + 3_600_000;
  for (let step = 0; step < 50 && quotaDay(hour, zone) === today; step++) hour += 3_600_000;
  let minute = hour - 3_600_000;
  for (let step = 0; step < 61 && quotaDay(minute, zone) === today; step++) minute += 60_000;
  return minute;
}
