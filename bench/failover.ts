import { DEFAULT_ROUTER_SETTINGS, PROVIDERS, type ProviderDescriptor, Router } from '../providers';
import { MemoryQuotaStore } from '../storage/memory/quota-store';
import { startFakeProviderServer } from '../tests/fakes/provider-server';
import { KEEP_ALIVE_MS, percentileOrNaN } from './measure';

/**
 * Benchmark 2: what a hanging provider costs. Provider A (first in priority) and B answer after a
 * fixed, realistic delay; after a healthy phase, A starts accepting requests and never answering.
 * The p95 latency of the next requests is compared with the healthy p95: the first request after
 * the switch pays one attempt timeout, then A's breaker is open and B answers at once. Real clock,
 * real HTTP on loopback.
 */

export interface FailoverOptions {
  /** The fake's answer delay (both providers). */
  readonly replyDelayMs: number;
  readonly attemptTimeoutMs: number;
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
  /** Failover p95 ÷ healthy p95. */
  readonly ratio: number;
  readonly failoverMaxMs: number;
  /** Requests that answered after an attempt on A failed (each paid the attempt timeout). */
  readonly paidTimeout: number;
  /** Attempts A received after it started hanging. */
  readonly attemptsOnHangingProvider: number;
  readonly failed: number;
}

export const DEFAULT_FAILOVER_OPTIONS: FailoverOptions = {
  replyDelayMs: 100,
  attemptTimeoutMs: 1_000,
  warmupRequests: 10,
  healthyRequests: 100,
  failoverRequests: 100,
  concurrency: 1,
};

/** The first two providers of the registry, in its (priority) order. */
function firstTwo(): readonly [ProviderDescriptor, ProviderDescriptor] {
  const [a, b] = PROVIDERS;
  if (a === undefined || b === undefined) throw new Error('the failover benchmark needs two providers in the registry');
  return [a, b];
}

const [A, B] = firstTwo();

export async function runFailoverBenchmark(
  options: FailoverOptions = DEFAULT_FAILOVER_OPTIONS,
): Promise<FailoverResult> {
  const server = await startFakeProviderServer({ keepAliveTimeoutMs: KEEP_ALIVE_MS });
  try {
    let aHangs = false;
    server.setHandler((request) =>
      request.dialect === A.name && aHangs
        ? { type: 'hang' }
        : { type: 'reply', text: `answer from ${request.dialect}`, delayMs: options.replyDelayMs },
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
      quotaStore: new MemoryQuotaStore(),
    });
    let failed = 0;
    let paidTimeout = 0;
    const ask = async (): Promise<number> => {
      const started = performance.now();
      try {
        const answer = await router.complete({
          messages: [{ role: 'user', content: 'Tell me a joke.' }],
          maxOutputTokens: 64,
        });
        if (answer.failedAttempts.length > 0) paidTimeout += 1;
      } catch {
        failed += 1;
      }
      return performance.now() - started;
    };

    await runConcurrently(ask, options.warmupRequests, options.concurrency);
    const healthy = await runConcurrently(ask, options.healthyRequests, options.concurrency);
    const before = server.requestsFor(A.name).length;
    aHangs = true;
    paidTimeout = 0;
    failed = 0;
    const failover = await runConcurrently(ask, options.failoverRequests, options.concurrency);
    const healthyP95Ms = percentileOrNaN(healthy, 0.95);
    const failoverP95Ms = percentileOrNaN(failover, 0.95);
    return {
      options,
      healthyP95Ms,
      failoverP95Ms,
      ratio: failoverP95Ms / healthyP95Ms,
      failoverMaxMs: Math.max(...failover),
      paidTimeout,
      attemptsOnHangingProvider: server.requestsFor(A.name).length - before,
      failed,
    };
  } finally {
    await server.stop();
  }
}

async function runConcurrently(ask: () => Promise<number>, count: number, concurrency: number): Promise<number[]> {
  const latencies: number[] = [];
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
