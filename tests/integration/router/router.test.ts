import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { isRouterError, type RouterError } from '../../../providers/router/errors';
import { collectPoolStats } from '../../../bot/services/pool-stats';
import { keyIdFor, PROVIDERS, quotaDay } from '../../../providers';
import { nextQuotaMonthStart } from '../../../providers/router/quota-day';
import type { RouteRequest, RouterOptions, RoutedStreamEvent } from '../../../providers/router/router';
import { MemoryQuotaStore } from '../../../storage/memory/quota-store';
import { RedisQuotaStore } from '../../../storage/redis/quota-store';
import type { QuotaStore } from '../../../providers/ports';
import {
  dialectFor,
  type FakeProviderServer,
  type RecordedRequest,
  startFakeProviderServer,
} from '../../fakes/provider-server';
import { FakeClock } from '../../helpers/fake-clock';
import { buildRouter, type ProviderSetup, TEST_ATTEMPT_TIMEOUT_MS } from '../../helpers/pool';
import { descriptorOf, FIRST_PROVIDER, SECOND_PROVIDER } from '../../helpers/providers';
import { redisForSuite } from '../../helpers/redis-suite';

/**
 * The router against real adapters (through their SDKs) on the fake provider server. "A" is the
 * first provider in the registry's (priority) order, "B" the second; each fails in its own words.
 */
const A = descriptorOf(FIRST_PROVIDER);
const B = descriptorOf(SECOND_PROVIDER);
const aErrors = dialectFor(A.name).errors;
const bErrors = dialectFor(B.name).errors;
const ATTEMPT_TIMEOUT_MS = TEST_ATTEMPT_TIMEOUT_MS;

let server: FakeProviderServer;
beforeAll(async () => {
  server = await startFakeProviderServer();
});
afterAll(async () => server.stop());
beforeEach(() => server.reset());

function makeRouter(providers: readonly ProviderSetup[], overrides: Partial<RouterOptions> = {}) {
  return buildRouter(server, providers, overrides);
}

const ask = (text = 'hello'): RouteRequest => ({ messages: [{ role: 'user', content: text }] });
const countBy = (requests: readonly RecordedRequest[], field: (request: RecordedRequest) => string | undefined) => {
  const counts: Record<string, number> = {};
  for (const request of requests) {
    const key = field(request) ?? '?';
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
};

async function routerError(promise: Promise<unknown>): Promise<RouterError> {
  try {
    await promise;
  } catch (error) {
    if (isRouterError(error)) return error;
    throw error;
  }
  throw new Error('expected a RouterError');
}

async function drain(
  stream: AsyncIterable<RoutedStreamEvent>,
): Promise<{ events: RoutedStreamEvent[]; error: unknown }> {
  const events: RoutedStreamEvent[] = [];
  try {
    for await (const event of stream) events.push(event);
    return { events, error: undefined };
  } catch (error) {
    return { events, error };
  }
}

describe('key rotation', () => {
  it('spreads 100 requests over two keys evenly (each serves 40–60)', async () => {
    // A hundred real requests in a row: the short attempt timeout of the suite (it times hangs)
    // could cut one short on a loaded machine and make this a test of the machine.
    const { router } = makeRouter([{ descriptor: A, keys: ['key-one-aaaaaaaaaa', 'key-two-bbbbbbbbbb'] }], {
      attemptTimeoutMs: 5000,
    });
    for (let index = 0; index < 100; index++) await router.complete(ask());
    const perKey = countBy(server.requests, (request) => request.apiKey);
    expect(Object.keys(perKey)).toHaveLength(2);
    for (const count of Object.values(perKey)) {
      expect(count).toBeGreaterThanOrEqual(40);
      expect(count).toBeLessThanOrEqual(60);
    }
  });

  it('sets a key that answers 401 aside: it gets no further request, the other key serves the rest', async () => {
    server.setHandler((request) =>
      request.apiKey === 'key-bad-aaaaaaaaaa' ? aErrors.invalidKey() : { type: 'reply', text: 'fine' },
    );
    const { router } = makeRouter([{ descriptor: A, keys: ['key-bad-aaaaaaaaaa', 'key-good-bbbbbbbbb'] }]);
    for (let index = 0; index < 20; index++) expect((await router.complete(ask())).text).toBe('fine');
    expect(countBy(server.requests, (request) => request.apiKey)).toEqual({
      'key-bad-aaaaaaaaaa': 1,
      'key-good-bbbbbbbbb': 20,
    });
  });

  it('cools a key down for the 30 s a 429 announced, then uses it again', async () => {
    const { router, clock } = makeRouter([{ descriptor: A, keys: ['key-one-aaaaaaaaaa', 'key-two-bbbbbbbbbb'] }]);
    server.enqueue({
      type: 'error',
      status: 429,
      headers: { 'retry-after': '30' },
      body: { error: { message: 'Rate limit reached on requests per minute (RPM)', code: 'rate_limit_exceeded' } },
    });
    const first = await router.complete(ask());
    const limitedKey = server.requests[0]!.apiKey;
    expect(first.failedAttempts).toMatchObject([{ kind: 'rate_limited' }]);

    for (let second = 0; second < 29; second++) {
      clock.advance(1000);
      await router.complete(ask());
    }
    expect(server.requests.slice(1).every((request) => request.apiKey !== limitedKey)).toBe(true);

    clock.advance(1500);
    const used = server.requests.length;
    await router.complete(ask());
    await router.complete(ask());
    expect(server.requests.slice(used).map((request) => request.apiKey)).toContain(limitedKey);
  });

  it('sends the 6th request within a minute to another key when the first allows 5 RPM, without any 429', async () => {
    const { router } = makeRouter([
      { descriptor: A, keys: ['key-limited-aaaaaa'], limits: { requestsPerMinute: 5 } },
      { descriptor: B, keys: ['key-other-bbbbbbbb'] },
    ]);
    const answers = [];
    for (let index = 0; index < 6; index++) answers.push(await router.complete(ask()));
    expect(answers.map((answer) => answer.provider)).toEqual([A.name, A.name, A.name, A.name, A.name, B.name]);
    expect(
      server.requests.every((request) => request.dialect !== A.name || request.apiKey === 'key-limited-aaaaaa'),
    ).toBe(true);
    expect(answers.every((answer) => answer.failedAttempts.length === 0)).toBe(true);
  });

  it('cools a key whose daily quota is gone until the quota resets', async () => {
    const { router, clock } = makeRouter([
      { descriptor: A, keys: ['key-one-aaaaaaaaaa'] },
      { descriptor: B, keys: ['key-bbbbbbbbbbbbbb'] },
    ]);
    server.enqueue({
      type: 'error',
      status: 429,
      body: {
        error: {
          message: 'Rate limit reached on requests per day (RPD): Limit 1000, Used 1000',
          code: 'rate_limit_exceeded',
        },
      },
    });
    expect((await router.complete(ask())).provider).toBe(B.name);
    clock.advance(3 * 3600_000);
    expect((await router.complete(ask())).provider).toBe(B.name);
    clock.advance(10 * 3600_000); // past midnight UTC
    expect((await router.complete(ask())).provider).toBe(A.name);
  });

  it('admits a key up to its monthly limit, then not before the next quota month', async () => {
    const { router, clock } = makeRouter([
      { descriptor: A, keys: ['key-a-aaaaaaaaaaaa'], limits: { requestsPerMonth: 2 } },
    ]);
    await router.complete(ask());
    clock.advance(3 * 86_400_000); // another day of the same month
    await router.complete(ask());
    const error = await routerError(router.complete(ask()));
    expect(error.kind).toBe('no_capacity');
    const monthStart = nextQuotaMonthStart(clock.now(), A.dailyResetZone);
    expect(error.retryAfterMs).toBe(monthStart - clock.now());
    clock.advance(monthStart - clock.now() - 3_600_000); // the month's last hour: still refused
    expect((await routerError(router.complete(ask()))).kind).toBe('no_capacity');
    clock.advance(3_600_000);
    await router.complete(ask());
    expect(server.requests).toHaveLength(3);
  });

  it('cools a key whose monthly quota a provider reports gone until the next quota month', async () => {
    // A provider with a monthly quota (the registry says which), and any other.
    const monthly = PROVIDERS.find((descriptor) => descriptor.defaultLimits.requestsPerMonth !== undefined);
    const other = PROVIDERS.find((descriptor) => descriptor !== monthly);
    if (monthly === undefined || other === undefined) return;
    const { router, clock } = makeRouter([
      { descriptor: monthly, keys: ['key-m-mmmmmmmmmmmm'] },
      { descriptor: other, keys: ['key-o-oooooooooooo'] },
    ]);
    server.enqueue(dialectFor(monthly.name).errors.quotaExhausted());
    expect((await router.complete(ask())).provider).toBe(other.name);
    const monthStart = nextQuotaMonthStart(clock.now(), monthly.dailyResetZone);
    clock.advance(monthStart - clock.now() - 60_000); // the next day, and days after it, are still out
    expect((await router.complete(ask())).provider).toBe(other.name);
    clock.advance(60_000);
    expect((await router.complete(ask())).provider).toBe(monthly.name);
  });
});

describe('provider health', () => {
  it('answers from B while A fails with 500; after N failures A gets only a probe until it recovers', async () => {
    let aHealthy = false;
    server.setHandler((request) =>
      request.dialect === A.name && !aHealthy
        ? aErrors.serverError()
        : { type: 'reply', text: `from ${request.dialect}` },
    );
    const { router, clock } = makeRouter([
      { descriptor: A, keys: ['key-a-aaaaaaaaaaaa'] },
      { descriptor: B, keys: ['key-b-bbbbbbbbbbbb'] },
    ]);
    for (let index = 0; index < 10; index++) {
      expect((await router.complete(ask())).text).toBe(`from ${B.name}`);
    }
    expect(server.requestsFor(A.name)).toHaveLength(3); // the breaker opened after 3

    clock.advance(30_001);
    for (let index = 0; index < 5; index++) await router.complete(ask());
    expect(server.requestsFor(A.name)).toHaveLength(4); // one probe, which failed

    aHealthy = true;
    clock.advance(30_001); // still open: the failed probe doubled the wait
    await router.complete(ask());
    expect(server.requestsFor(A.name)).toHaveLength(4);
    clock.advance(30_001);
    expect((await router.complete(ask())).text).toBe(`from ${A.name}`);
    expect((await router.complete(ask())).text).toBe(`from ${A.name}`);
  });

  it('pays one attempt timeout for a hanging provider, then none for the next 20 requests', async () => {
    server.setHandler((request) =>
      request.dialect === A.name ? { type: 'hang' } : { type: 'reply', text: 'B answers' },
    );
    const { router } = makeRouter([
      { descriptor: A, keys: ['key-a-aaaaaaaaaaaa'] },
      { descriptor: B, keys: ['key-b-bbbbbbbbbbbb'] },
    ]);
    const firstStarted = performance.now();
    await router.complete(ask());
    expect(performance.now() - firstStarted).toBeGreaterThanOrEqual(ATTEMPT_TIMEOUT_MS * 0.9);

    // None of the next 20 tries A at all, so none can wait on it: no failed attempt, one request to A in all.
    for (let index = 0; index < 20; index++) {
      const answer = await router.complete(ask());
      expect({ text: answer.text, failed: answer.failedAttempts.length }).toEqual({ text: 'B answers', failed: 0 });
    }
    expect(server.requestsFor(A.name)).toHaveLength(1);
  });
});

describe('deadlines and error classes', () => {
  it('ends every failure in one typed error that names each provider tried and why', async () => {
    server.setHandler((request) => (request.dialect === A.name ? aErrors.serverError() : bErrors.invalidKey()));
    const { router } = makeRouter([
      { descriptor: A, keys: ['key-a-aaaaaaaaaaaa'] },
      { descriptor: B, keys: ['key-b-bbbbbbbbbbbb'] },
    ]);
    const error = await routerError(router.complete(ask()));
    expect(error.kind).toBe('unavailable');
    expect(error.attempts.map((attempt) => [attempt.provider, attempt.kind])).toEqual([
      [A.name, 'transient'],
      [B.name, 'auth'],
    ]);
    expect(error.message).toContain(A.name);
    expect(error.message).toContain(B.name);
    expect(error.message).not.toContain('key-a-aaaaaaaaaaaa');
  });

  it('stops at the deadline even when every provider hangs', async () => {
    server.setHandler(() => ({ type: 'hang' }));
    const { router } = makeRouter(
      [
        { descriptor: A, keys: ['key-a-aaaaaaaaaaaa'] },
        { descriptor: B, keys: ['key-b-bbbbbbbbbbbb'] },
      ],
      { clock: undefined, requestDeadlineMs: 450 },
    );
    const started = performance.now();
    const error = await routerError(router.complete(ask()));
    expect(performance.now() - started).toBeLessThan(450 + 2500);
    expect(['deadline', 'unavailable']).toContain(error.kind);
    expect(error.attempts.every((attempt) => attempt.kind === 'transient')).toBe(true);
  });

  it('stops at a content filter without trying other providers', async () => {
    server.enqueue({ type: 'blocked' });
    const { router } = makeRouter([
      { descriptor: A, keys: ['key-a-aaaaaaaaaaaa'] },
      { descriptor: B, keys: ['key-b-bbbbbbbbbbbb'] },
    ]);
    const error = await routerError(router.complete(ask()));
    expect(error.kind).toBe('content_filtered');
    expect(server.requests).toHaveLength(1);
  });

  it('asks the caller for a shorter conversation after a context-length error', async () => {
    server.enqueue(aErrors.contextTooLong());
    const budgets: number[] = [];
    const { router } = makeRouter([{ descriptor: A, keys: ['key-a-aaaaaaaaaaaa'] }]);
    const result = await router.complete({
      messages: [{ role: 'user', content: 'long' }],
      fit: (budget) => {
        budgets.push(budget);
        return [{ role: 'user', content: `fitted to ${budget}` }];
      },
    });
    expect(budgets).toHaveLength(2);
    expect(budgets[1]).toBeLessThanOrEqual(budgets[0]! / 2);
    expect(server.requests[1]!.messages.at(-1)?.content).toBe(`fitted to ${budgets[1]}`);
    expect(result.failedAttempts).toMatchObject([{ kind: 'context_too_long' }]);
  });

  it('moves to the next provider on a bad request (an unknown model)', async () => {
    server.setHandler((request) =>
      request.dialect === A.name ? aErrors.modelNotFound() : { type: 'reply', text: 'B answers' },
    );
    const { router } = makeRouter([
      { descriptor: A, keys: ['key-a-aaaaaaaaaaaa'] },
      { descriptor: B, keys: ['key-b-bbbbbbbbbbbb'] },
    ]);
    expect((await router.complete(ask())).text).toBe('B answers');
  });

  it('waits for a key that frees up within the wait limit, and says when when it will not', async () => {
    const { router, clock } = makeRouter(
      [{ descriptor: A, keys: ['key-a-aaaaaaaaaaaa'], limits: { requestsPerMinute: 2 } }],
      {
        maxWaitMs: 5_000,
      },
    );
    await router.complete(ask());
    clock.advance(57_000);
    await router.complete(ask());
    const before = clock.slept;
    await router.complete(ask()); // the first slot frees in 3.25 s (a minute and the slot margin): worth the wait
    expect(clock.slept - before).toBe(3250);
    const error = await routerError(router.complete(ask())); // the next frees in 57 s: too long
    expect(error.kind).toBe('no_capacity');
    expect(error.retryAfterMs).toBeGreaterThan(50_000);
    expect(server.requests).toHaveLength(3);
  });

  it('reports no_providers when no key is configured', async () => {
    const { router } = makeRouter([{ descriptor: A, keys: [] }]);
    expect((await routerError(router.complete(ask()))).kind).toBe('no_providers');
  });
});

describe('per-request preference', () => {
  it('asks the preferred provider first, with its model, and the avoided one last', async () => {
    const { router } = makeRouter([
      { descriptor: A, keys: ['key-a-aaaaaaaaaaaa'] },
      { descriptor: B, keys: ['key-b-bbbbbbbbbbbb'] },
    ]);
    const preferred = await router.complete({ ...ask(), prefer: [{ provider: B.name, model: 'bigger-model' }] });
    expect(preferred.provider).toBe(B.name);
    expect(server.requests.at(-1)?.model).toBe('bigger-model');
    const avoided = await router.complete({ ...ask(), avoid: [A.name] });
    expect(avoided.provider).toBe(B.name);
    expect(server.requests.at(-1)?.model).toBe(B.defaultModel);
    // Without either, the usual order: A first.
    expect((await router.complete(ask())).provider).toBe(A.name);
  });

  it('falls back to ordinary routing when the preferred provider fails or has no quota', async () => {
    const { router } = makeRouter([
      { descriptor: A, keys: ['key-a-aaaaaaaaaaaa'] },
      { descriptor: B, keys: ['key-b-bbbbbbbbbbbb'], limits: { requestsPerDay: 1 } },
    ]);
    server.setHandler((request) =>
      request.dialect === B.name && request.index === 0 ? bErrors.serverError() : { type: 'reply', text: 'ok' },
    );
    const failed = await router.complete({ ...ask(), prefer: [{ provider: B.name }] });
    expect(failed.provider).toBe(A.name);
    expect(failed.failedAttempts).toMatchObject([{ provider: B.name, kind: 'transient' }]);
    // B's one request a day is spent: the preference goes to A without asking B.
    const before = server.requestsFor(B.name).length;
    const noQuota = await router.complete({ ...ask(), prefer: [{ provider: B.name }] });
    expect(noQuota.provider).toBe(A.name);
    expect(server.requestsFor(B.name)).toHaveLength(before);
  });

  it('streams from the preferred provider too', async () => {
    const { router } = makeRouter([
      { descriptor: A, keys: ['key-a-aaaaaaaaaaaa'] },
      { descriptor: B, keys: ['key-b-bbbbbbbbbbbb'] },
    ]);
    const { events, error } = await drain(router.stream({ ...ask(), prefer: [{ provider: B.name }] }));
    expect(error).toBeUndefined();
    expect(events[0]).toMatchObject({ type: 'start', provider: B.name });
  });
});

describe('streaming', () => {
  it('falls over to another provider when the stream fails before the first delta', async () => {
    server.setHandler((request) =>
      request.dialect === A.name ? aErrors.unavailable() : { type: 'reply', text: 'streamed from B' },
    );
    const { router } = makeRouter([
      { descriptor: A, keys: ['key-a-aaaaaaaaaaaa'] },
      { descriptor: B, keys: ['key-b-bbbbbbbbbbbb'] },
    ]);
    const { events, error } = await drain(router.stream(ask()));
    expect(error).toBeUndefined();
    expect(events[0]).toMatchObject({ type: 'start', provider: B.name });
    const text = events.flatMap((event) => (event.type === 'text-delta' ? [event.text] : [])).join('');
    expect(text).toBe('streamed from B');
    expect(events.at(-1)).toMatchObject({ type: 'finish' });
  });

  it('pays the first-token timeout once for a provider whose streams hang, then none', async () => {
    server.setHandler((request) =>
      request.dialect === A.name ? { type: 'hang' } : { type: 'reply', text: 'B streams' },
    );
    const { router } = makeRouter(
      [
        { descriptor: A, keys: ['key-a-aaaaaaaaaaaa'] },
        { descriptor: B, keys: ['key-b-bbbbbbbbbbbb'] },
      ],
      { attemptTimeoutMs: 5_000, firstTokenTimeoutMs: ATTEMPT_TIMEOUT_MS },
    );
    const first = await drain(router.stream(ask()));
    expect(first.error).toBeUndefined();
    for (let index = 0; index < 10; index++) {
      const { events, error } = await drain(router.stream(ask()));
      expect(error).toBeUndefined();
      expect(events[0]).toMatchObject({ type: 'start', provider: B.name, failedAttempts: [] });
    }
    expect(server.requestsFor(A.name)).toHaveLength(1);
  });

  it('ends with an error, never glued text, when the stream breaks after the first delta', async () => {
    server.setHandler((request) =>
      request.dialect === A.name
        ? { type: 'cut', text: 'partial answer that breaks', afterChunks: 2 }
        : { type: 'reply', text: 'B would have answered' },
    );
    const { router } = makeRouter([
      { descriptor: A, keys: ['key-a-aaaaaaaaaaaa'] },
      { descriptor: B, keys: ['key-b-bbbbbbbbbbbb'] },
    ]);
    const { events, error } = await drain(router.stream(ask()));
    const text = events.flatMap((event) => (event.type === 'text-delta' ? [event.text] : [])).join('');
    expect(text).toBe('partial answer ');
    expect(isRouterError(error) && error.kind).toBe('interrupted');
    expect(server.requestsFor(B.name)).toHaveLength(0);
  });
});

describe('shared state through Redis', () => {
  const redis = redisForSuite();

  async function redisQuota(prefix: string): Promise<QuotaStore> {
    return new RedisQuotaStore(await redis.client(), prefix);
  }

  it('lets two routers sharing one Redis send at most 10 requests a minute to a 10-RPM key', async () => {
    const prefix = `test:${randomUUID()}:`;
    const clock = new FakeClock();
    const setups = [
      { descriptor: A, keys: ['key-shared-aaaaaaa'], limits: { requestsPerMinute: 10 } },
      { descriptor: B, keys: ['key-b-bbbbbbbbbbbb'] },
    ];
    // Generous timeouts: 30 requests at once on a busy machine must not time out; this test is about limits.
    const options = { clock, maxWaitMs: 0, attemptTimeoutMs: 10_000, firstTokenTimeoutMs: 10_000 };
    const first = makeRouter(setups, { ...options, quotaStore: await redisQuota(prefix) }).router;
    const second = makeRouter(setups, { ...options, quotaStore: await redisQuota(prefix) }).router;
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, index) => (index % 2 === 0 ? first : second).complete(ask(`q${index}`))),
    );
    expect(server.requestsFor(A.name)).toHaveLength(10);
    expect(answers.filter((answer) => answer.provider === B.name)).toHaveLength(20);
  });
});

describe('pool stats', () => {
  it('reports per provider and masked key: requests, failures by kind, fallbacks, latency, quota left and capacity', async () => {
    server.setHandler((request) =>
      request.apiKey === 'key-bad-aaaaaaaaaaaaaaaaaaaa'
        ? aErrors.invalidKey()
        : { type: 'reply', text: 'ok', usage: { inputTokens: 10, outputTokens: 2 } },
    );
    const quotaStore = new MemoryQuotaStore();
    const { router, stats } = makeRouter(
      [
        {
          descriptor: A,
          keys: ['key-bad-aaaaaaaaaaaaaaaaaaaa', 'key-good-bbbbbbbbbbbbbbbbbbb'],
          limits: { requestsPerDay: 100, requestsPerMonth: 2000 },
        },
        { descriptor: B, keys: ['key-b-cccccccccccccccccccccc'], limits: { requestsPerDay: 1000 } },
      ],
      { quotaStore },
    );
    for (let index = 0; index < 5; index++) await router.complete(ask());
    await new Promise((resolve) => setImmediate(resolve)); // background stat writes

    const pool = await collectPoolStats(router.snapshot(), quotaStore, stats);
    const providerA = pool.providers.find((provider) => provider.name === A.name)!;
    expect(providerA.counters).toMatchObject({ requests: 6, successes: 5, fallbacks: 1, failures: { auth: 1 } });
    expect(providerA.counters.latencyP50Ms).toBeGreaterThan(0);
    expect(providerA.keys.map((key) => key.maskedKey)).toEqual(['key-ba…aaaa', 'key-go…bbbb']);
    expect(providerA.keys[0]).toMatchObject({ blocked: { reason: 'bad' }, leftToday: 0 });
    expect(providerA.keys[1]).toMatchObject({
      requestsToday: 5,
      dailyLimit: 100,
      leftToday: 95,
      requestsThisMonth: 5,
      monthlyLimit: 2000,
    });
    // The bad key is not capacity; the good one and B's are.
    expect(pool.dailyCapacity).toBe(1100);
    expect(pool.leftToday).toBe(1095);
    expect(JSON.stringify(pool)).not.toContain('key-good-bbbbbbbbbbbbbbbbbbb');
  });
});

describe('reset-aware spending', () => {
  // Five minutes before midnight Pacific (08:00 UTC in November).
  const BEFORE_PACIFIC_RESET = Date.UTC(2026, 10, 27, 7, 55, 0);
  const pacific = { ...B, dailyResetZone: 'America/Los_Angeles' as const };

  it('spends first the quota that would lapse at its reset, then priority order again', async () => {
    const clock = new FakeClock(BEFORE_PACIFIC_RESET, true);
    const { router } = makeRouter(
      [
        { descriptor: A, keys: ['key-a-aaaaaaaaaaaa'], limits: { requestsPerDay: 1000, requestsPerMinute: 30 } },
        // 100 left, at most 10 a minute: 5 minutes cannot spend it all.
        { descriptor: pacific, keys: ['key-b-bbbbbbbbbbbb'], limits: { requestsPerDay: 100, requestsPerMinute: 10 } },
      ],
      { clock },
    );
    // The first request reads the quota outlook in the background and goes by priority.
    expect((await router.complete(ask())).provider).toBe(A.name);
    await new Promise((resolve) => setImmediate(resolve));
    const answers = [];
    for (let index = 0; index < 10; index++) answers.push((await router.complete(ask())).provider);
    // The lapsing provider serves until its per-minute limit, then the rest overflow by priority.
    expect(answers).toEqual([...Array(10).fill(pacific.name)]);
    expect((await router.complete(ask())).provider).toBe(A.name);

    // After its reset the quota is plenty again: priority order decides.
    clock.advance(10 * 60_000);
    await router.complete(ask());
    await new Promise((resolve) => setImmediate(resolve));
    clock.advance(16_000);
    await router.complete(ask());
    await new Promise((resolve) => setImmediate(resolve));
    expect((await router.complete(ask())).provider).toBe(A.name);
  });

  it('keeps plain priority order when turned off', async () => {
    const clock = new FakeClock(BEFORE_PACIFIC_RESET, true);
    const { router } = makeRouter(
      [
        { descriptor: A, keys: ['key-a-aaaaaaaaaaaa'], limits: { requestsPerDay: 1000, requestsPerMinute: 30 } },
        { descriptor: pacific, keys: ['key-b-bbbbbbbbbbbb'], limits: { requestsPerDay: 100, requestsPerMinute: 10 } },
      ],
      { clock, resetAwareSpending: false },
    );
    for (let index = 0; index < 5; index++) {
      expect((await router.complete(ask())).provider).toBe(A.name);
      await new Promise((resolve) => setImmediate(resolve));
    }
  });
});

describe('refunds: what a failed attempt leaves in its key’s window', () => {
  const KEY = 'key-only-aaaaaaaaaaaa';
  const usageAfter = async (
    behaviour: () => import('../../fakes/provider-server').Behaviour,
    descriptor = A,
  ): Promise<{ requestsLastMinute: number }> => {
    const quotaStore = new MemoryQuotaStore();
    const { router, clock } = makeRouter(
      [
        { descriptor, keys: [KEY], limits: { requestsPerMinute: 5, requestsPerDay: 100 } },
        { descriptor: B, keys: ['key-backup-bbbbbbbbbb'] },
      ],
      { quotaStore },
    );
    server.setHandler((request) => (request.apiKey === KEY ? behaviour() : { type: 'reply', text: 'from the backup' }));
    await router.complete(ask());
    await new Promise((resolve) => setImmediate(resolve)); // the refund is written behind the answer
    const [usage] = await quotaStore.usage(
      [keyIdFor(descriptor.name, KEY)],
      clock.now(),
      quotaDay(clock.now(), descriptor.dailyResetZone),
    );
    // (The day count follows what the provider's headers say it counted, so only the minute is compared here;
    // the quota store contract checks the day count of an uncounted refund.)
    return { requestsLastMinute: usage!.requestsLastMinute };
  };

  it('frees the slot of a refusal the provider did not count: 401, 429, quota, 400, context too long', async () => {
    for (const refusal of [
      aErrors.invalidKey,
      () => aErrors.rateLimited(1),
      aErrors.quotaExhausted,
      aErrors.modelNotFound,
      aErrors.contextTooLong,
    ]) {
      expect(await usageAfter(refusal)).toEqual({ requestsLastMinute: 0 });
    }
  });

  it('keeps the slot of a failure the provider may have counted: a 5xx after sending', async () => {
    expect(await usageAfter(aErrors.serverError)).toEqual({ requestsLastMinute: 1 });
  });

  it('keeps the slot of a refusal when the provider says it counts refusals', async () => {
    const counting = { ...A, refusalsCounted: true };
    expect(await usageAfter(() => aErrors.rateLimited(1), counting)).toEqual({ requestsLastMinute: 1 });
  });

  it('tries the same key again once the wait a 429 announced is over, instead of setting it aside', async () => {
    const { router, clock } = makeRouter([{ descriptor: A, keys: [KEY] }]);
    server.enqueue(aErrors.rateLimited(1));
    const before = clock.slept;
    const answer = await router.complete(ask());
    expect(answer.failedAttempts).toMatchObject([{ kind: 'rate_limited' }]);
    expect(server.requests.map((request) => request.apiKey)).toEqual([KEY, KEY]);
    // The announced wait (a few seconds in this provider's words), not the default minute-long cool-down.
    expect(clock.slept - before).toBeGreaterThan(0);
    expect(clock.slept - before).toBeLessThan(10_000);
  });
});

describe('background writes that fail', () => {
  it('are counted for the metrics every time and logged at most once a minute per kind, with how many', async () => {
    const warnings: { details: Record<string, unknown>; message: string }[] = [];
    const logger = {
      debug: () => undefined,
      info: () => undefined,
      warn: (details: object, message: string) =>
        warnings.push({ details: details as Record<string, unknown>, message }),
      error: () => undefined,
    };
    const failingStats = {
      recordAttempt: async () => {
        throw new Error('stats store down');
      },
      recordUserRequest: async () => undefined,
      read: async () => {
        throw new Error('stats store down');
      },
      userRequests: async () => 0,
    };
    const { router, clock } = makeRouter([{ descriptor: A, keys: ['key-a-aaaaaaaaaaaa'] }], {
      statsStore: failingStats,
      logger,
    });
    const failed: string[] = [];
    router.observe({ backgroundWriteFailed: (what) => failed.push(what) });
    const settle = () => new Promise((resolve) => setImmediate(resolve));
    for (let index = 0; index < 5; index++) {
      await router.complete(ask());
      await settle();
    }
    expect(failed).toEqual(['stats', 'stats', 'stats', 'stats', 'stats']);
    const logged = () => warnings.filter((warning) => warning.details.what === 'stats');
    expect(logged()).toHaveLength(1);
    clock.advance(61_000);
    await router.complete(ask());
    await settle();
    expect(logged()).toHaveLength(2);
    // The second line stands for the four failures it did not log, and its own.
    expect(logged()[1]?.details.failures).toBe(5);
  });
});
