import { DEFAULT_ROUTER_SETTINGS, PROVIDERS, type ProviderDescriptor, Router } from '../providers';
import { MemoryQuotaStore } from '../storage/memory/quota-store';
import { startFakeProviderServer } from '../tests/fakes/provider-server';
import { KEEP_ALIVE_MS, percentileOrNaN } from './measure';

/**
 * Benchmark 2: what a hanging provider costs. Provider A (first in priority) and B answer after a
 * fixed, realistic delay; after a healthy phase, A starts accepting requests and never answering.
 * The p95 latency of the next requests is compared with the healthy p95. Without hedging, every
 * request already waiting on A when it starts hanging pays one attempt timeout, then A's breaker
 * is open and B answers at once; with hedging, each of them gets a backup on B once A has been
 * silent for 1.5 × its recent p95, and A's breaker opens after three lost races. Real clock, real
 * HTTP on loopback.
 *
 * Answers are whole (`complete`, as /translate asks) or streamed (as chat answers are): a streamed
 * answer's first words come after `replyDelayMs` and the rest over `streamMs`, and its latency is
 * the whole answer's (the first token's is reported beside it).
 */

export interface FailoverOptions {
  /** The fake's answer delay (both providers): to the whole answer, or to a stream's first words. */
  readonly replyDelayMs: number;
  /** Streamed answers: how long the rest of the answer takes after its first words; 0 = whole answers. */
  readonly streamMs: number;
  readonly attemptTimeoutMs: number;
  /** Hedging on (the production share and this benchmark's minimum delay) or off. */
  readonly hedging: boolean;
  /** The shortest hedge delay: scaled with the attempt timeout (production: 1.5 s for 15 s). */
  readonly hedgeMinDelayMs: number;
  readonly warmupRequests: number;
  readonly healthyRequests: number;
  readonly failoverRequests: number;
  /** Requests in flight at once; 1 = one after another. */
  readonly concurrency: number;
}

export interface FailoverResult {
  readonly options: FailoverOptions;
  readonly healthyP95Ms: number;
  readonly failoverP95Ms: number;
  /** Failover p95 ÷ healthy p95 (whole answers). */
  readonly ratio: number;
  /** Streamed answers: the same for the first token; NaN for whole answers. */
  readonly firstTokenRatio: number;
  readonly failoverMaxMs: number;
  /** Requests that answered after an attempt on A failed (each paid the attempt timeout). */
  readonly paidTimeout: number;
  /** Attempts A received after it started hanging. */
  readonly attemptsOnHangingProvider: number;
  /** Hedges started in the healthy phase, and after A started hanging. */
  readonly healthyHedges: number;
  readonly failoverHedges: number;
  readonly failed: number;
}

export const DEFAULT_FAILOVER_OPTIONS: FailoverOptions = {
  replyDelayMs: 100,
  streamMs: 0,
  attemptTimeoutMs: 1_000,
  hedging: true,
  hedgeMinDelayMs: 100,
  warmupRequests: 10,
  healthyRequests: 100,
  failoverRequests: 100,
  concurrency: 1,
};

/** Words a streamed answer has, sent `streamMs / STREAMED_WORDS` apart. */
const STREAMED_WORDS = 10;

/** The first two providers of the registry, in its (priority) order. */
function firstTwo(): readonly [ProviderDescriptor, ProviderDescriptor] {
  const [a, b] = PROVIDERS;
  if (a === undefined || b === undefined) throw new Error('the failover benchmark needs two providers in the registry');
  return [a, b];
}

const [A, B] = firstTwo();

interface Timing {
  readonly totalMs: number;
  readonly firstTokenMs: number;
}

export async function runFailoverBenchmark(
  options: FailoverOptions = DEFAULT_FAILOVER_OPTIONS,
): Promise<FailoverResult> {
  const server = await startFakeProviderServer({ keepAliveTimeoutMs: KEEP_ALIVE_MS });
  const streaming = options.streamMs > 0;
  const text = streaming ? Array.from({ length: STREAMED_WORDS }, (_, index) => `word${index}`).join(' ') : undefined;
  try {
    let aHangs = false;
    server.setHandler((request) =>
      request.dialect === A.name && aHangs
        ? { type: 'hang' }
        : {
            type: 'reply',
            text: text ?? `answer from ${request.dialect}`,
            delayMs: options.replyDelayMs,
            ...(streaming ? { chunkDelayMs: options.streamMs / STREAMED_WORDS } : {}),
          },
    );
    const router = new Router({
      ...DEFAULT_ROUTER_SETTINGS,
      providers: [A, B].map((descriptor) => ({
        descriptor,
        baseUrl: server.baseUrlFor(descriptor.name),
        model: descriptor.defaultModel,
        keys: [`bench-${descriptor.name}-key-000000000000`],
        // No limits: this measures failover, not admission.
        limits: {},
      })),
      attemptTimeoutMs: options.attemptTimeoutMs,
      firstTokenTimeoutMs: options.attemptTimeoutMs,
      streamIdleTimeoutMs: options.attemptTimeoutMs,
      hedgeMaxShare: options.hedging ? DEFAULT_ROUTER_SETTINGS.hedgeMaxShare : 0,
      hedgeMinDelayMs: options.hedgeMinDelayMs,
      quotaStore: new MemoryQuotaStore(),
    });
    let hedges = 0;
    router.observe({ hedge: () => (hedges += 1) });
    let failed = 0;
    let paidTimeout = 0;
    const request = { messages: [{ role: 'user' as const, content: 'Tell me a joke.' }], maxOutputTokens: 64 };
    const ask = async (): Promise<Timing> => {
      const started = performance.now();
      let firstTokenMs = Number.NaN;
      try {
        if (streaming) {
          for await (const event of router.stream(request)) {
            if (event.type === 'start' && event.failedAttempts.length > 0) paidTimeout += 1;
            if (event.type === 'text-delta' && Number.isNaN(firstTokenMs)) firstTokenMs = performance.now() - started;
          }
        } else {
          const answer = await router.complete(request);
          if (answer.failedAttempts.length > 0) paidTimeout += 1;
        }
      } catch {
        failed += 1;
      }
      return { totalMs: performance.now() - started, firstTokenMs };
    };

    await runConcurrently(ask, options.warmupRequests, options.concurrency);
    hedges = 0;
    const healthy = await runConcurrently(ask, options.healthyRequests, options.concurrency);
    const healthyHedges = hedges;
    const before = server.requestsFor(A.name).length;
    aHangs = true;
    paidTimeout = 0;
    failed = 0;
    hedges = 0;
    const failover = await runConcurrently(ask, options.failoverRequests, options.concurrency);
    const p95 = (timings: readonly Timing[], field: keyof Timing): number =>
      percentileOrNaN(
        timings.map((timing) => timing[field]).filter((value) => !Number.isNaN(value)),
        0.95,
      );
    const healthyP95Ms = p95(healthy, 'totalMs');
    const failoverP95Ms = p95(failover, 'totalMs');
    return {
      options,
      healthyP95Ms,
      failoverP95Ms,
      ratio: failoverP95Ms / healthyP95Ms,
      firstTokenRatio: streaming ? p95(failover, 'firstTokenMs') / p95(healthy, 'firstTokenMs') : Number.NaN,
      failoverMaxMs: Math.max(...failover.map((timing) => timing.totalMs)),
      paidTimeout,
      attemptsOnHangingProvider: server.requestsFor(A.name).length - before,
      healthyHedges,
      failoverHedges: hedges,
      failed,
    };
  } finally {
    await server.stop();
  }
}

async function runConcurrently<T>(ask: () => Promise<T>, count: number, concurrency: number): Promise<T[]> {
  const latencies: T[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      next += 1;
      latencies.push(await ask());
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return latencies;
}
