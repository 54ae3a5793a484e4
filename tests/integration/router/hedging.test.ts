import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { keyIdFor, PROVIDERS } from '../../../providers';
import type { AttemptRecord } from '../../../providers/ports';
import { HedgeBudget, hedgeDelayMs } from '../../../providers/router/hedging';
import type { HealthSummary } from '../../../providers/router/health';
import type { HedgeOutcome, RoutedStreamEvent, RouteRequest, RouterOptions } from '../../../providers/router/router';
import { MemoryQuotaStore } from '../../../storage/memory/quota-store';
import type { Behaviour, FakeProviderServer } from '../../fakes/provider-server';
import { startFakeProviderServer } from '../../fakes/provider-server';
import { FakeClock } from '../../helpers/fake-clock';
import { buildRouter } from '../../helpers/pool';

/**
 * Hedged first answers, on a clock the test moves by hand: the hedge delay passes only when the
 * test says so, while the HTTP exchanges with the fake providers are real. Attempt timeouts are
 * long (10 s of real time), so only a hedge can rescue a stalled attempt within a test.
 */
const [A, B] = PROVIDERS;
if (A === undefined || B === undefined) throw new Error('the hedging tests need two providers');
const LONG_TIMEOUT_MS = 10_000;
const MIN_DELAY_MS = 1_500;

let server: FakeProviderServer;
beforeAll(async () => {
  server = await startFakeProviderServer();
});
afterAll(async () => server.stop());
beforeEach(() => server.reset());

const ask = (text = 'hello'): RouteRequest => ({ messages: [{ role: 'user', content: text }] });

interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((settle) => {
    resolve = settle;
  });
  return { promise, resolve };
}

function hedgingRouter(overrides: Partial<RouterOptions> = {}) {
  const clock = new FakeClock();
  const quotaStore = new MemoryQuotaStore();
  const { router, stats } = buildRouter(
    server,
    [
      { descriptor: A!, keys: ['key-first-aaaaaaaaaaaa'] },
      { descriptor: B!, keys: ['key-second-bbbbbbbbbbb'] },
    ],
    {
      clock,
      quotaStore,
      hedgeMaxShare: 1,
      hedgeMinDelayMs: MIN_DELAY_MS,
      attemptTimeoutMs: LONG_TIMEOUT_MS,
      firstTokenTimeoutMs: LONG_TIMEOUT_MS,
      streamIdleTimeoutMs: LONG_TIMEOUT_MS,
      requestDeadlineMs: 60_000,
      ...overrides,
    },
  );
  const hedges: HedgeOutcome[] = [];
  const attempts: AttemptRecord[] = [];
  router.observe({ hedge: (outcome) => hedges.push(outcome), attempt: (record) => attempts.push(record) });
  return { router, clock, quotaStore, stats, hedges, attempts };
}

/** A handler where A's requests wait for the test (a `hang` unless released) and B answers at once. */
function aWaitsForTheTest(): { received: Deferred<void>; release: Deferred<Behaviour> } {
  const received = deferred<void>();
  const release = deferred<Behaviour>();
  server.setHandler((request) => {
    if (request.dialect !== A!.name) return { type: 'reply', text: `answer from ${request.dialect}` };
    received.resolve();
    return release.promise;
  });
  return { received, release };
}

/** Lets the router's promise chains run (they take a few turns of the event loop), without real waiting. */
async function settle(): Promise<void> {
  for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
}

async function collect(stream: AsyncIterable<RoutedStreamEvent>): Promise<{ provider: string; text: string }> {
  let provider = '';
  let text = '';
  for await (const event of stream) {
    if (event.type === 'start') provider = event.provider;
    if (event.type === 'text-delta') text += event.text;
  }
  return { provider, text };
}

describe('hedged first token', () => {
  it('starts a backup on the next provider once the delay passes, and the backup answers', async () => {
    const { router, clock, hedges, attempts } = hedgingRouter();
    const { received } = aWaitsForTheTest();
    const answer = collect(router.stream(ask()));
    await received.promise;
    clock.advance(MIN_DELAY_MS - 1);
    await settle();
    expect(server.requestsFor(B!.name)).toHaveLength(0);

    clock.advance(1);
    expect(await answer).toEqual({ provider: B!.name, text: `answer from ${B!.name}` });
    expect(server.requestsFor(A!.name)).toHaveLength(1);
    expect(server.requestsFor(B!.name)).toHaveLength(1);
    expect(hedges).toEqual([expect.objectContaining({ provider: B!.name, won: true })]);
    expect(attempts).toEqual([expect.objectContaining({ provider: B!.name, outcome: 'success', hedge: true })]);
  });

  it('keeps the first attempt when it answers before the delay: no hedge, no extra request', async () => {
    const { router, clock, hedges } = hedgingRouter();
    const { received, release } = aWaitsForTheTest();
    const answer = collect(router.stream(ask()));
    await received.promise;
    clock.advance(MIN_DELAY_MS - 1);
    release.resolve({ type: 'reply', text: 'from the first' });
    expect(await answer).toEqual({ provider: A!.name, text: 'from the first' });
    clock.advance(MIN_DELAY_MS);
    await settle();
    expect(server.requestsFor(B!.name)).toHaveLength(0);
    expect(hedges).toEqual([]);
  });

  it('aborts and refunds the hedge when the first attempt answers first after all', async () => {
    const bWaits = deferred<Behaviour>();
    const bReceived = deferred<void>();
    const { router, clock, hedges, quotaStore } = hedgingRouter();
    const { received, release } = aWaitsForTheTest();
    server.setHandler((request) => {
      if (request.dialect === A!.name) {
        received.resolve();
        return release.promise;
      }
      bReceived.resolve();
      return bWaits.promise;
    });
    const answer = collect(router.stream(ask()));
    await received.promise;
    clock.advance(MIN_DELAY_MS);
    await bReceived.promise;
    release.resolve({ type: 'reply', text: 'late but first' });
    expect(await answer).toEqual({ provider: A!.name, text: 'late but first' });
    expect(hedges).toEqual([expect.objectContaining({ provider: B!.name, won: false })]);
    await settle();
    // The hedge's reservation was given back: its key counts no tokens for it.
    const [hedgeKey] = await quotaStore.usage([keyIdFor(B!.name, 'key-second-bbbbbbbbbbb')], clock.now(), '2026-11-26');
    expect(hedgeKey).toMatchObject({ requestsLastMinute: 1, tokensLastMinute: 0 });
    bWaits.resolve({ type: 'reply', text: 'too late' });
  });

  it('hedges a whole answer (complete) the same way', async () => {
    const { router, clock, hedges } = hedgingRouter();
    const { received } = aWaitsForTheTest();
    const answer = router.complete(ask());
    await received.promise;
    clock.advance(MIN_DELAY_MS);
    const result = await answer;
    expect(result.provider).toBe(B!.name);
    expect(result.failedAttempts).toEqual([]);
    expect(hedges).toHaveLength(1);
  });

  it('never hedges a stream that has started, and hedges at most once per request', async () => {
    const { router, clock } = hedgingRouter();
    server.setHandler((request) =>
      request.dialect === A!.name
        ? { type: 'stall', text: 'one two three', afterChunks: 1 }
        : { type: 'reply', text: 'unused' },
    );
    const events: RoutedStreamEvent[] = [];
    const stream = router.stream(ask())[Symbol.asyncIterator]();
    for (let step = await stream.next(); !step.done; step = await stream.next()) {
      events.push(step.value);
      if (step.value.type === 'text-delta') break;
    }
    clock.advance(10 * MIN_DELAY_MS);
    await settle();
    expect(server.requestsFor(B!.name)).toHaveLength(0);
    expect(events[0]).toMatchObject({ type: 'start', provider: A!.name });
    await stream.return?.(undefined);
  });

  it('opens the stalled provider’s breaker after three lost races, so later requests go straight elsewhere', async () => {
    const { router, clock } = hedgingRouter();
    server.setHandler((request) =>
      request.dialect === A!.name ? { type: 'hang' } : { type: 'reply', text: `answer from ${request.dialect}` },
    );
    for (let index = 0; index < 3; index++) {
      const before = server.requestsFor(A!.name).length;
      const answer = collect(router.stream(ask()));
      while (server.requestsFor(A!.name).length === before) await settle();
      clock.advance(MIN_DELAY_MS);
      expect((await answer).provider).toBe(B!.name);
    }
    const stalledRequests = server.requestsFor(A!.name).length;
    expect((await collect(router.stream(ask()))).provider).toBe(B!.name);
    expect(server.requestsFor(A!.name)).toHaveLength(stalledRequests);
  });

  it('stays within its budget: at 10 % of a quiet minute’s requests, the third slow answer is not hedged', async () => {
    const { router, clock, hedges } = hedgingRouter({ hedgeMaxShare: 0.1 });
    // A is slow but answers; B would answer later still: each hedge loses, and no stall is seen.
    let aReceived = deferred<void>();
    let aRelease = deferred<Behaviour>();
    let bReceived = deferred<void>();
    server.setHandler((request) => {
      if (request.dialect === A!.name) {
        aReceived.resolve();
        return aRelease.promise;
      }
      bReceived.resolve();
      return { type: 'hang' };
    });
    for (let index = 0; index < 2; index++) {
      const answer = collect(router.stream(ask()));
      await aReceived.promise;
      clock.advance(MIN_DELAY_MS);
      await bReceived.promise;
      aRelease.resolve({ type: 'reply', text: 'slow but first' });
      expect((await answer).provider).toBe(A!.name);
      aReceived = deferred<void>();
      aRelease = deferred<Behaviour>();
      bReceived = deferred<void>();
    }
    expect(hedges).toEqual([expect.objectContaining({ won: false }), expect.objectContaining({ won: false })]);
    // Two hedges a minute are allowed whatever the traffic, and they are used up.
    const hedgedSoFar = server.requestsFor(B!.name).length;
    const answer = collect(router.stream(ask()));
    await aReceived.promise;
    clock.advance(5 * MIN_DELAY_MS);
    await settle();
    expect(server.requestsFor(B!.name)).toHaveLength(hedgedSoFar);
    aRelease.resolve({ type: 'reply', text: 'slow' });
    expect((await answer).provider).toBe(A!.name);
    expect(hedges).toHaveLength(2);
  });

  it('hedges every request caught in a stall, beyond the budget, once the stall is evident', async () => {
    const { router, clock, hedges } = hedgingRouter({ hedgeMaxShare: 0.1 });
    server.setHandler((request) =>
      request.dialect === A!.name ? { type: 'hang' } : { type: 'reply', text: `answer from ${request.dialect}` },
    );
    const answers = Array.from({ length: 8 }, () => collect(router.stream(ask())));
    while (server.requestsFor(A!.name).length < 8) await settle();
    // The first two hedges come from the budget; they win, which shows A is stalling; the rest follow.
    clock.advance(MIN_DELAY_MS);
    while (hedges.length < 2) await settle();
    clock.advance(250);
    const results = await Promise.all(answers);
    expect(results.every((result) => result.provider === B!.name)).toBe(true);
    expect(hedges).toHaveLength(8);
    expect(server.requestsFor(A!.name)).toHaveLength(8);
  });

  it('is off with a share of 0', async () => {
    const { router, clock } = hedgingRouter({ hedgeMaxShare: 0 });
    const { received, release } = aWaitsForTheTest();
    const answer = collect(router.stream(ask()));
    await received.promise;
    clock.advance(5 * MIN_DELAY_MS);
    await settle();
    release.resolve({ type: 'reply', text: 'slow' });
    expect((await answer).provider).toBe(A!.name);
    expect(server.requestsFor(B!.name)).toHaveLength(0);
  });
});

describe('hedge delay', () => {
  const health = (p95: number | undefined): HealthSummary => ({
    samples: p95 === undefined ? 0 : 50,
    successRate: 1,
    latencyP50Ms: p95,
    latencyP95Ms: p95 === undefined ? undefined : 2 * p95,
    firstTokenP50Ms: p95,
    firstTokenP95Ms: p95,
  });

  it('is 1.5 × the recent p95 (first token for streams, whole answer otherwise), at least the minimum', () => {
    expect(hedgeDelayMs(health(2_000), true, 1_500, 15_000)).toBe(3_000);
    expect(hedgeDelayMs(health(2_000), false, 1_500, 20_000)).toBe(6_000);
    expect(hedgeDelayMs(health(400), true, 1_500, 15_000)).toBe(1_500);
    expect(hedgeDelayMs(health(undefined), true, 1_500, 15_000)).toBe(1_500);
  });

  it('stays well below the attempt timeout', () => {
    expect(hedgeDelayMs(health(30_000), true, 1_500, 15_000)).toBe(11_250);
    expect(hedgeDelayMs(health(undefined), true, 1_500, 1_000)).toBe(750);
  });
});

describe('hedge budget', () => {
  it('allows hedges up to the share of the last minute’s requests, and forgets older requests', () => {
    const budget = new HedgeBudget(0.1);
    const start = 1_000_000_000_000;
    for (let index = 0; index < 30; index++) budget.noteRequest(start);
    expect([budget.tryTake(start), budget.tryTake(start), budget.tryTake(start), budget.tryTake(start)]).toEqual([
      true,
      true,
      true,
      false,
    ]);
    // A minute later the old requests (and hedges) are out of the window; a quiet minute still
    // allows the floor of two.
    const later = start + 61_000;
    budget.noteRequest(later);
    expect([budget.tryTake(later), budget.tryTake(later), budget.tryTake(later)]).toEqual([true, true, false]);
  });

  it('is disabled at 0', () => {
    const budget = new HedgeBudget(0);
    budget.noteRequest(0);
    expect(budget.enabled).toBe(false);
    expect(budget.tryTake(0)).toBe(false);
  });
});
