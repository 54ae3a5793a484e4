import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from '@jest/globals';
import { DashboardAuth, SESSION_COOKIE, sameSecret } from '../../bot/dashboard/auth';
import { Timeline } from '../../bot/dashboard/timeline';
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
