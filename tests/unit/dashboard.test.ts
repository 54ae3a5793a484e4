import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from '@jest/globals';
import { DashboardAuth, SESSION_COOKIE, sameSecret } from '../../bot/dashboard/auth';
import { collectDashboardData, processInfoJson } from '../../bot/dashboard/snapshot';
import { Timeline } from '../../bot/dashboard/timeline';
import type { PoolStats } from '../../bot/services/pool-stats';
import type { AttemptRecord } from '../../providers';

const MINUTE = 60_000;
const START = Date.UTC(2026, 0, 1, 12, 0, 0);

function attempt(outcome: AttemptRecord['outcome'], latencyMs: number, fallback = false): AttemptRecord {
  return { provider: 'p', keyId: 'k', maskedKey: 'k…1', outcome, latencyMs, fallback, at: 0 };
}

function request(headers: Record<string, string>): IncomingMessage {
  return { headers, socket: {} } as unknown as IncomingMessage;
}

describe('Timeline (the dashboard’s per-minute ring)', () => {
  it('counts attempts, answers, failures, fallbacks and hedges per minute, oldest first', () => {
    let now = START;
    const timeline = new Timeline(() => now, 10);
    timeline.attempt(attempt('success', 100));
    timeline.attempt(attempt('transient', 900));
    timeline.attempt(attempt('success', 300, true));
    timeline.hedge({ provider: 'p', maskedKey: 'k…1', won: true });
    now += 2 * MINUTE;
    timeline.attempt(attempt('success', 50));

    const series = timeline.series(3);
    expect(series.minutes).toEqual([START / 1000, START / 1000 + 60, START / 1000 + 120]);
    expect(series.attempts).toEqual([3, 0, 1]);
    expect(series.successes).toEqual([2, 0, 1]);
    expect(series.failures).toEqual([1, 0, 0]);
    expect(series.fallbacks).toEqual([1, 0, 0]);
    expect(series.hedges).toEqual([1, 0, 0]);
    expect(series.successRate).toEqual([2 / 3, null, 1]);
    // Latencies are those of answers only: a failure's time says nothing about answering.
    expect(series.latencyP50Ms).toEqual([100, null, 50]);
    expect(series.latencyP95Ms).toEqual([300, null, 50]);

    expect(timeline.summary(60)).toEqual({
      minutes: 10,
      attempts: 4,
      successes: 3,
      successRate: 0.75,
      fallbacks: 1,
      hedgesWon: 1,
      hedgesLost: 0,
      latencyP50Ms: 100,
      latencyP95Ms: 300,
    });
  });

  it('forgets minutes older than it keeps, reusing their slots', () => {
    let now = START;
    const timeline = new Timeline(() => now, 5);
    timeline.attempt(attempt('success', 10));
    now += 5 * MINUTE; // the same slot of the ring, five minutes on
    timeline.attempt(attempt('success', 20));
    timeline.attempt(attempt('success', 20));
    expect(timeline.series(5).attempts).toEqual([0, 0, 0, 0, 2]);
    expect(timeline.summary(5).attempts).toBe(2);
    now += 10 * MINUTE;
    expect(timeline.summary(5)).toMatchObject({ attempts: 0, successRate: undefined, latencyP50Ms: undefined });
  });

  it('keeps a bounded sample of latencies under load', () => {
    const timeline = new Timeline(
      () => START,
      5,
      () => 0.999,
    );
    for (let index = 0; index < 10_000; index++) timeline.attempt(attempt('success', index < 9_000 ? 10 : 1_000));
    const series = timeline.series(1);
    expect(series.attempts).toEqual([10_000]);
    expect(series.latencyP50Ms).toEqual([10]);
  });
});

describe('DashboardAuth', () => {
  const TOKEN = 'dashboard-token_0123456789abcdef';
  const auth = new DashboardAuth(TOKEN);

  it('compares secrets of any length in constant time', () => {
    expect(sameSecret(TOKEN, TOKEN)).toBe(true);
    expect(sameSecret(`${TOKEN}x`, TOKEN)).toBe(false);
    expect(sameSecret('', TOKEN)).toBe(false);
  });

  it('accepts the token as a Bearer header, and the session cookie it starts', () => {
    expect(auth.allows(request({ authorization: `Bearer ${TOKEN}` }))).toBe(true);
    expect(auth.allows(request({ authorization: `Bearer ${TOKEN.toUpperCase()}` }))).toBe(false);
    expect(auth.allows(request({ authorization: TOKEN }))).toBe(false);
    expect(auth.allows(request({}))).toBe(false);

    const cookie = auth.sessionCookie(request({}));
    expect(cookie).toMatch(
      new RegExp(`^${SESSION_COOKIE}=[\\w-]+; Path=/dashboard; Max-Age=\\d+; HttpOnly; SameSite=Strict$`),
    );
    expect(cookie).not.toContain(TOKEN);
    const value = cookie.split(';')[0] ?? '';
    expect(auth.allows(request({ cookie: `other=1; ${value}` }))).toBe(true);
    expect(auth.allows(request({ cookie: `${SESSION_COOKIE}=${TOKEN}` }))).toBe(false);
    expect(new DashboardAuth(`${TOKEN}-other`).allows(request({ cookie: value }))).toBe(false);
  });

  it('marks the cookie Secure behind TLS', () => {
    expect(auth.sessionCookie(request({ 'x-forwarded-proto': 'https' }))).toMatch(/; Secure$/);
  });
});

describe('collectDashboardData', () => {
  const counters = {
    requests: 4,
    successes: 3,
    successRate: 0.75,
    fallbacks: 1,
    hedges: 0,
    failures: { transient: 1 },
    latencyP50Ms: 120,
    latencyP95Ms: 400,
    inputTokens: 0,
    outputTokens: 0,
    transcriptions: 0,
    audioSeconds: 0,
    mediaRequests: 0,
  };
  const health = {
    samples: 0,
    successRate: undefined,
    latencyP50Ms: undefined,
    latencyP95Ms: undefined,
    firstTokenP50Ms: undefined,
    firstTokenP95Ms: undefined,
  };
  const pool: PoolStats = {
    day: '2026-01-01',
    dailyCapacity: 2000,
    leftToday: 1000 - 3,
    keysWithUnknownLimit: 0,
    activeUsersToday: 2,
    topUsers: [{ userId: '7', requests: 3 }],
    providers: [
      {
        name: 'p',
        model: 'm',
        breaker: 'open',
        breakerOpenUntil: START + 30_000,
        health,
        counters,
        dailyCapacity: 2000,
        leftToday: 997,
        keys: [
          {
            maskedKey: 'k…1',
            requestsToday: 3,
            dailyLimit: 1000,
            leftToday: 997,
            requestsThisMonth: 3,
            monthlyLimit: undefined,
            blocked: undefined,
            counters,
          },
          {
            maskedKey: 'k…2',
            requestsToday: 1,
            requestsThisMonth: 1,
            monthlyLimit: undefined,
            dailyLimit: 1000,
            leftToday: 0,
            blocked: { reason: 'quota', until: START + 3_600_000 },
            counters,
          },
        ],
      },
    ],
  };
  const process = {
    id: 'host:1:abc',
    version: '1.2.3',
    startedAt: START - 90_000,
    mode: 'polling',
    storage: 'redis',
    node: 'v20',
  } as const;

  it('passes on breakers with their probe time, blocked keys, the day and this process; lists the others', async () => {
    const data = await collectDashboardData({
      process,
      now: () => START,
      poolStats: async () => pool,
      timeline: new Timeline(() => START),
      intake: () => ({ backlog: 4, backlogLimit: 100, polling: true }),
      processes: async () => [
        { id: 'host:1:abc', info: processInfoJson(process), at: START - 1_000 },
        { id: 'other:2:def', info: '{"version":"1.2.2","startedAt":0,"mode":"webhook"}', at: START - 4_000 },
        { id: 'odd:3:ghi', info: 'not json', at: START - 2_000 },
      ],
      storageUp: () => true,
    });
    expect(data.process).toMatchObject({ id: 'host:1:abc', uptimeSeconds: 90, poller: true });
    expect(data.pool).toMatchObject({ usedToday: 4, leftToday: 997, dailyCapacity: 2000 });
    expect(data.pool.providers[0]).toMatchObject({
      breaker: 'open',
      breakerOpenUntil: START + 30_000,
      requestsToday: 4,
      successRate: 0.75,
    });
    expect(data.pool.providers[0]?.keys[1]?.blocked).toEqual({ reason: 'quota', until: START + 3_600_000 });
    expect(data.users).toEqual({ activeToday: 2, top: [{ userId: '7', requests: 3 }] });
    expect(data.intake).toEqual({ backlog: 4, backlogLimit: 100, polling: true });
    expect(data.processes).toEqual([
      expect.objectContaining({ id: 'host:1:abc', self: true, version: '1.2.3', uptimeSeconds: 90 }),
      expect.objectContaining({ id: 'other:2:def', self: false, version: '1.2.2', mode: 'webhook' }),
      expect.objectContaining({ id: 'odd:3:ghi', self: false, version: undefined }),
    ]);
    // A young process charts its life, 15 minutes at least.
    expect(data.timeline.minutes).toHaveLength(15);
  });

  it('still answers when the process list cannot be read', async () => {
    const data = await collectDashboardData({
      process,
      now: () => START,
      poolStats: async () => pool,
      timeline: new Timeline(() => START),
      processes: async () => {
        throw new Error('Redis is away');
      },
      storageUp: () => false,
    });
    expect(data.processes).toEqual([]);
    expect(data.storageUp).toBe(false);
    expect(data.intake).toBeUndefined();
  });
});
