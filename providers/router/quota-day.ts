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

const DAY_MS = 86_400_000;

/** The last day computed per zone and the span of time it covers, known to be that day. */
const lastDays = new Map<DailyResetZone, { readonly day: string; readonly from: number; readonly until: number }>();

/**
 * `2026-11-26`: the quota day of `now` in `zone`. Asked on every request (admission, statistics),
 * so the last answer per zone is kept with the span it covers: a moment already seen in that
 * day and the day's end.
 */
export function quotaDay(now: number, zone: DailyResetZone): string {
  const last = lastDays.get(zone);
  if (last !== undefined && now >= last.from && now < last.until) return last.day;
  const day = formatDay(now, zone);
  const until = zone === 'UTC' ? (Math.floor(now / DAY_MS) + 1) * DAY_MS : searchNextDayStart(now, zone, day);
  lastDays.set(zone, { day, from: now, until });
  return day;
}

function formatDay(now: number, zone: DailyResetZone): string {
  if (zone === 'UTC') return new Date(now).toISOString().slice(0, 10);
  return formatter(zone).format(now);
}

/** The first moment after `now` at which the quota day in `zone` changes: the end of the span `quotaDay` keeps. */
export function nextQuotaDayStart(now: number, zone: DailyResetZone): number {
  quotaDay(now, zone);
  const span = lastDays.get(zone);
  return Math.max(span?.until ?? now + DAY_MS, now + 1);
}

function searchNextDayStart(now: number, zone: DailyResetZone, today: string): number {
  // Midnight moves by at most a few hours against UTC: search forward hour by hour, then minute by minute.
  let hour = Math.floor(now / 3_600_000) * 3_600_000 + 3_600_000;
  for (let step = 0; step < 50 && formatDay(hour, zone) === today; step++) hour += 3_600_000;
  let minute = hour - 3_600_000;
  for (let step = 0; step < 61 && formatDay(minute, zone) === today; step++) minute += 60_000;
  return minute;
}

/**
 * The first moment after `now` at which the quota month in `zone` changes: midnight (in `zone`)
 * starting the 1st of the next month. A monthly quota (docs/providers.md) resets then.
 */
export function nextQuotaMonthStart(now: number, zone: DailyResetZone): number {
  const month = quotaDay(now, zone).slice(0, 7);
  const [year, monthNumber] = month.split('-').map(Number) as [number, number];
  // Half a day before the 1st in UTC is still in this month in every zone; step day by day from there.
  let moment = Math.max(now, Date.UTC(year, monthNumber, 1) - DAY_MS / 2);
  for (let step = 0; step < 3 && quotaDay(moment, zone).slice(0, 7) === month; step++) {
    moment = nextQuotaDayStart(moment, zone);
  }
  return moment;
}
