import { DEFAULT_SLIDING_WINDOW_OPTIONS, runSlidingWindow } from '../../bench/sliding-window';
import { describe, expect, it } from '@jest/globals';
import { DEFAULT_FAILOVER_OPTIONS, runFailoverBenchmark } from '../../bench/failover';
import { LimitEnforcer } from '../../bench/limit-enforcer';
import { measureWindowCost, runOverheadBenchmark } from '../../bench/overhead';
import { DEFAULT_DAY_OPTIONS, runSimulatedDay } from '../../bench/simulated-day';
import { PROVIDERS } from '../../providers/registry';
import { dialectFor, type RecordedRequest } from '../fakes/provider-server';

/**
 * Tiny versions of the benchmarks behind `npm run bench`, so their code keeps working as the
 * router changes. They check that each benchmark runs and reports sane numbers, not how fast
 * anything is: timing belongs to the benchmark run, not to the test suite.
 */

const isFinitePositive = (value: number): boolean => Number.isFinite(value) && value > 0;

/** One small request of key `key-one` to `dialect`, and a function that sends it to the enforcer. */
function oneRequest(enforcer: LimitEnforcer, dialect: string) {
  const request = { dialect, apiKey: 'key-one', messages: [{ role: 'user', content: 'hi' }], body: {} };
  return { request, ask: () => enforcer.handle(request as unknown as RecordedRequest) };
}

describe('bench smoke', () => {
  it('overhead: measures both arms at each concurrency and reports finite ratios', async () => {
    const results = await runOverheadBenchmark({
      concurrency: [1, 2],
      warmupRequests: 5,
      rounds: 2,
      requestsPerRound: 10,
    });
    expect(results.map((result) => result.concurrency)).toEqual([1, 2]);
    for (const result of results) {
      expect(result.direct.requests).toBe(20);
      expect(result.router.requests).toBe(20);
      expect(isFinitePositive(result.direct.requestsPerSecond)).toBe(true);
      expect(isFinitePositive(result.router.requestsPerSecond)).toBe(true);
      expect(isFinitePositive(result.throughputRatio)).toBe(true);
      expect(isFinitePositive(result.cpuRatio)).toBe(true);
      expect(isFinitePositive(result.controlRatio)).toBe(true);
      expect(Number.isFinite(result.addedP50Ms)).toBe(true);
      expect(result.roundRatios).toHaveLength(2);
    }
    const costs = await measureWindowCost([10, 200], 50, 50);
    expect(costs.map((cost) => cost.windowEntries)).toEqual([10, 200]);
    expect(costs.every((cost) => isFinitePositive(cost.microsecondsPerRequest))).toBe(true);
  });

  it('failover: without hedging the hanging provider gets one attempt, then the breaker keeps requests away from it', async () => {
    const result = await runFailoverBenchmark({
      ...DEFAULT_FAILOVER_OPTIONS,
      replyDelayMs: 20,
      attemptTimeoutMs: 300,
      hedging: false,
      warmupRequests: 2,
      healthyRequests: 10,
      failoverRequests: 10,
    });
    expect(result.failed).toBe(0);
    expect(result.attemptsOnHangingProvider).toBe(1);
    expect(result.paidTimeout).toBe(1);
    expect(result.failoverHedges).toBe(0);
    expect(isFinitePositive(result.healthyP95Ms)).toBe(true);
    expect(isFinitePositive(result.ratio)).toBe(true);
  });

  it('failover: with hedging, streamed answers in flight on the hanging provider are answered by the backup', async () => {
    const result = await runFailoverBenchmark({
      ...DEFAULT_FAILOVER_OPTIONS,
      replyDelayMs: 20,
      streamMs: 50,
      attemptTimeoutMs: 2_000,
      hedgeMinDelayMs: 50,
      // Enough requests in the last minute for the hedge budget (10 %) to cover the 4 in flight.
      warmupRequests: 4,
      healthyRequests: 40,
      failoverRequests: 20,
      concurrency: 4,
    });
    expect(result.failed).toBe(0);
    expect(result.paidTimeout).toBe(0);
    expect(result.failoverHedges).toBeGreaterThanOrEqual(3);
    // No request waited for the 2 s attempt timeout.
    expect(result.failoverMaxMs).toBeLessThan(2_000);
    expect(isFinitePositive(result.firstTokenRatio)).toBe(true);
  });

  it('limit enforcer: refuses a key over its per-minute limit with the provider’s 429 and says no key has room', () => {
    // A provider whose minute window is the clock minute (by its fake dialect) and that has a per-minute limit.
    const provider = PROVIDERS.find(
      (descriptor) =>
        dialectFor(descriptor.name).limits.minuteWindow === 'fixed' &&
        descriptor.defaultLimits.requestsPerMinute !== undefined,
    );
    if (provider === undefined) throw new Error('no provider in the registry has a fixed minute window');
    let now = Date.UTC(2026, 10, 26, 12, 0, 30);
    const enforcer = new LimitEnforcer({
      providers: [{ name: provider.name, limits: provider.defaultLimits, dailyResetZone: 'UTC' }],
      now: () => now,
      answer: () => ({ text: 'ok', outputTokens: 1 }),
    });
    enforcer.register(provider.name, 'key-one');
    const { request, ask } = oneRequest(enforcer, provider.name);
    const rpm = provider.defaultLimits.requestsPerMinute ?? 0;
    for (let index = 0; index < rpm; index++) expect(ask().type).toBe('reply');
    expect(enforcer.keyWithRoom(request.messages, 1, undefined)).toBeUndefined();
    expect(ask()).toMatchObject({ type: 'error', status: 429 });
    now += 30_000; // the window is the clock minute: the next one has room again
    expect(enforcer.keyWithRoom(request.messages, 1, undefined)).toBeDefined();
    expect(enforcer.totals()).toMatchObject({ upstreamRequests: rpm + 1, served: rpm, refused: 1 });
  });

  it('limit enforcer: counts a monthly quota across days and refuses past it until the month turns', () => {
    // A provider whose free tier counts requests by the month.
    const provider = PROVIDERS.find((descriptor) => descriptor.defaultLimits.requestsPerMonth !== undefined);
    if (provider === undefined) throw new Error('no provider in the registry has a monthly quota');
    let now = Date.UTC(2026, 10, 29, 23, 59, 0);
    const enforcer = new LimitEnforcer({
      providers: [{ name: provider.name, limits: { requestsPerMonth: 3 }, dailyResetZone: 'UTC' }],
      now: () => now,
      answer: () => ({ text: 'ok', outputTokens: 1 }),
    });
    const { request, ask } = oneRequest(enforcer, provider.name);
    expect(ask().type).toBe('reply');
    now += 120_000; // the next day of the same month: the month's count goes on
    expect(ask().type).toBe('reply');
    expect(ask().type).toBe('reply');
    expect(enforcer.keyWithRoom(request.messages, 1, undefined)).toBeUndefined();
    expect(ask()).toMatchObject({ type: 'error', status: 429 });
    now = Date.UTC(2026, 11, 1, 0, 0, 1); // December
    expect(ask().type).toBe('reply');
    expect(enforcer.totals().refusedByKind).toMatchObject({ rpmo: 1 });
  });

  it('simulated day: runs the same demand through both routers; ours draws no more 429s than the naive one', async () => {
    // One key per provider, two for the one with the smallest daily quota.
    const smallest = [...PROVIDERS].sort(
      (a, b) =>
        (a.defaultLimits.requestsPerDay ?? Number.POSITIVE_INFINITY) -
        (b.defaultLimits.requestsPerDay ?? Number.POSITIVE_INFINITY),
    )[0];
    const keysPerProvider = Object.fromEntries(
      PROVIDERS.map((descriptor) => [descriptor.name, descriptor === smallest ? 2 : 1]),
    );
    const result = await runSimulatedDay({
      ...DEFAULT_DAY_OPTIONS,
      hours: 0.1,
      keysPerProvider,
      // Flat demand well above what the first providers take in a minute, so limits are hit.
      peakFactor: 6,
      meanFactor: 6,
      floorFactor: 6,
    });
    expect(result.demand).toBeGreaterThan(100);
    // Σ keys × daily quota over the registry (a monthly quota counts whole: the run is in one month).
    expect(result.capacity).toBe(
      PROVIDERS.reduce(
        (sum, descriptor) =>
          sum +
          (keysPerProvider[descriptor.name] ?? 0) *
            (descriptor.defaultLimits.requestsPerDay ?? descriptor.defaultLimits.requestsPerMonth ?? 0),
        0,
      ),
    );
    for (const run of [result.ours, result.oursPriorityOnly, result.naive]) {
      expect(run.userRequests).toBe(result.demand);
      expect(run.served + run.failed).toBe(result.demand);
      expect(run.upstream.served).toBe(run.served);
      expect(Number.isFinite(run.shareOfCapacity)).toBe(true);
      expect(Number.isFinite(run.refusedShare)).toBe(true);
      expect(Number.isFinite(run.delayP95Ms)).toBe(true);
    }
    // The enforcer did refuse the naive router, and our router did no worse.
    expect(result.naive.upstream.refused).toBeGreaterThan(0);
    expect(result.ours.refusedShare).toBeLessThanOrEqual(result.naive.refusedShare);
    expect(result.ours.upstream.refused).toBeLessThanOrEqual(result.naive.upstream.refused);
  }, 60_000);
});

describe('sliding-window bench smoke', () => {
  it('sends no request a key would refuse and serves the capacity; without the slot margin it meets 429s', async () => {
    const options = { ...DEFAULT_SLIDING_WINDOW_OPTIONS, keys: 2, minutes: 2 };
    const ours = await runSlidingWindow(options);
    expect(ours.upstream429s).toBe(0);
    expect(ours.refusedWithFreeSlot).toBe(0);
    expect(ours.servedShare).toBeGreaterThanOrEqual(0.99);
    expect(ours.served + ours.refusedToUsers).toBe(ours.demand);
    const before = await runSlidingWindow({ ...options, slotMarginMs: 0 });
    expect(before.upstream429s).toBeGreaterThan(0);
  });
});
