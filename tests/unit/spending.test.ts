import { describe, expect, it } from '@jest/globals';
import type { KeyUsage } from '../../providers/ports';
import { outlookOf, type QuotaOutlook, spendLapsingFirst, willLapse } from '../../providers/router/spending';

const NOW = Date.UTC(2026, 10, 27, 7, 0, 0);
const MINUTE = 60_000;

const usage = (requestsToday: number, overrides: Partial<KeyUsage> = {}): KeyUsage => ({
  keyId: 'p:k',
  requestsLastMinute: 0,
  tokensLastMinute: 0,
  requestsToday,
  tokensToday: 0,
  requestsThisMonth: 0,
  learnedLimits: {},
  block: undefined,
  ...overrides,
});

describe('reset-aware spending', () => {
  it('sums what the usable keys have left today and can spend a minute', () => {
    const outlook = outlookOf(
      [usage(100), usage(480), usage(0, { block: { reason: 'bad', until: NOW + 3600_000 } })],
      { requestsPerDay: 500, requestsPerMinute: 15 },
      NOW + 60 * MINUTE,
      NOW,
    );
    expect(outlook).toEqual({ at: NOW, leftToday: 420, perMinute: 30, resetsAt: NOW + 60 * MINUTE });
    // Limits the provider announced win over configured ones; an unknown daily limit means "unknown".
    expect(
      outlookOf([usage(10, { learnedLimits: { requestsPerDay: 50 } })], { requestsPerDay: 500 }, NOW, NOW),
    ).toMatchObject({
      leftToday: 40,
      perMinute: undefined,
    });
    expect(outlookOf([usage(10)], {}, NOW, NOW).leftToday).toBeUndefined();
  });

  it('calls quota lapsing when even the full per-minute rate cannot spend it before the reset', () => {
    const outlook = (leftToday: number, minutesToReset: number): QuotaOutlook => ({
      at: NOW,
      leftToday,
      perMinute: 15,
      resetsAt: NOW + minutesToReset * MINUTE,
    });
    expect(willLapse(outlook(500, 30), NOW)).toBe(true); // 15 × 30 = 450 < 500
    expect(willLapse(outlook(500, 40), NOW)).toBe(false); // 600 could still be spent
    expect(willLapse(outlook(0, 1), NOW)).toBe(false);
    expect(willLapse({ ...outlook(500, 30), perMinute: undefined }, NOW)).toBe(false);
    expect(willLapse(undefined, NOW)).toBe(false);
  });

  it('puts lapsing providers first, soonest reset first, and leaves the rest in order', () => {
    const outlooks: Record<string, QuotaOutlook> = {
      first: { at: NOW, leftToday: 1000, perMinute: 30, resetsAt: NOW + 17 * 60 * MINUTE },
      second: { at: NOW, leftToday: 100, perMinute: 10, resetsAt: NOW + 5 * MINUTE },
      third: { at: NOW, leftToday: 200, perMinute: 10, resetsAt: NOW + 3 * MINUTE },
      fourth: { at: NOW, leftToday: 10, perMinute: 10, resetsAt: NOW + 60 * MINUTE },
    };
    const ordered = ['first', 'second', 'third', 'fourth'];
    expect(spendLapsingFirst(ordered, (name) => outlooks[name], NOW)).toEqual(['third', 'second', 'first', 'fourth']);
    const plenty = ['first', 'fourth'];
    expect(spendLapsingFirst(plenty, (name) => outlooks[name], NOW)).toBe(plenty);
  });
});
