import { describe, expect, it } from '@jest/globals';
import { nextQuotaDayStart, nextQuotaMonthStart, quotaDay } from '../../providers/router/quota-day';

describe('quota days', () => {
  it('names the calendar day in the reset zone', () => {
    const moment = Date.UTC(2026, 10, 26, 5, 0, 0); // 05:00 UTC = 21:00 the day before in Los Angeles
    expect(quotaDay(moment, 'UTC')).toBe('2026-11-26');
    expect(quotaDay(moment, 'America/Los_Angeles')).toBe('2026-11-25');
  });

  it('finds the next midnight in UTC and in Pacific time, winter and summer', () => {
    expect(nextQuotaDayStart(Date.UTC(2026, 10, 26, 12, 0, 0), 'UTC')).toBe(Date.UTC(2026, 10, 27, 0, 0, 0));
    // PST (UTC−8) in November, PDT (UTC−7) in July.
    expect(nextQuotaDayStart(Date.UTC(2026, 10, 26, 12, 0, 0), 'America/Los_Angeles')).toBe(
      Date.UTC(2026, 10, 27, 8, 0, 0),
    );
    expect(nextQuotaDayStart(Date.UTC(2026, 6, 1, 12, 0, 0), 'America/Los_Angeles')).toBe(
      Date.UTC(2026, 6, 2, 7, 0, 0),
    );
  });

  it('finds the start of the next quota month in UTC and in Pacific time, over a year end', () => {
    expect(nextQuotaMonthStart(Date.UTC(2026, 10, 3, 7, 0, 0), 'UTC')).toBe(Date.UTC(2026, 11, 1, 0, 0, 0));
    expect(nextQuotaMonthStart(Date.UTC(2026, 11, 31, 23, 59, 59), 'UTC')).toBe(Date.UTC(2027, 0, 1, 0, 0, 0));
    // 04:00 UTC on 1 December is still 30 November in Los Angeles: its month turns at 08:00 UTC.
    expect(nextQuotaMonthStart(Date.UTC(2026, 11, 1, 4, 0, 0), 'America/Los_Angeles')).toBe(
      Date.UTC(2026, 11, 1, 8, 0, 0),
    );
    expect(nextQuotaMonthStart(Date.UTC(2026, 6, 10, 12, 0, 0), 'America/Los_Angeles')).toBe(
      Date.UTC(2026, 7, 1, 7, 0, 0),
    );
    // And the day's cache still answers for today afterwards.
    expect(quotaDay(Date.UTC(2026, 10, 26, 12, 0, 0), 'UTC')).toBe('2026-11-26');
  });

  it('answers the same from its cache, and never a moment in the past', () => {
    const first = nextQuotaDayStart(Date.UTC(2026, 10, 26, 1, 0, 0), 'UTC');
    expect(nextQuotaDayStart(Date.UTC(2026, 10, 26, 23, 59, 59), 'UTC')).toBe(first);
    expect(nextQuotaDayStart(Date.UTC(2026, 10, 27, 0, 0, 0), 'UTC')).toBe(Date.UTC(2026, 10, 28, 0, 0, 0));
  });
});
