import {
  type ChatRequest,
  DEFAULT_ROUTER_SETTINGS,
  keyIdFor,
  PROVIDERS,
  type ProviderAdapter,
  type ProviderDescriptor,
  Router,
} from '../providers';
import { MemoryQuotaStore } from '../storage/memory/quota-store';
import { startFakeProviderServer } from '../tests/fakes/provider-server';
import { inProcessAdapter, KEEP_ALIVE_MS, median } from './measure';
import { VirtualClock } from './virtual-clock';

/**
 * Benchmark 1: what the router costs on top of the adapter. Both arms send the same request
 * through the same adapter instance with the same key to the same fake server (real HTTP on
 * loopback, answering at once); the only difference is the router in between (planning, quota
 * admission in the in-memory store, settling, health and breaker bookkeeping). Rounds rotate the
 * order of the arms, so machine noise (GC, CPU frequency, other processes) hits all of them, and
 * an A/A control arm shows how far noise alone moves a ratio.
 *
 * Each round builds a new router (same adapter, same key, a new in-memory quota store). The store
 * keeps every request of the last minute per key and scans them on each request, so one router
 * fed ~1,000 requests a second through one key would measure a minute window no free-tier key
 * ever holds (30 RPM) and drift slower the longer the benchmark runs. That cost is measured on
 * its own, without HTTP, by `measureWindowCost`.
 */

export interface OverheadOptions {
  /** Levels of concurrency to measure, e.g. `[1, 8]` (1 = sequential). */
  readonly concurrency: readonly number[];
  readonly warmupRequests: number;
  readonly rounds: number;
  readonly requestsPerRound: number;
}

export interface ArmMeasurement {
  readonly requests: number;
  readonly elapsedMs: number;
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  /** CPU time of this process per request (client and fake server both run in it), in µs. */
  readonly cpuMicrosecondsPerRequest: number;
}

export interface OverheadResult {
  readonly concurrency: number;
  readonly direct: ArmMeasurement;
  readonly router: ArmMeasurement;
  /** Router throughput ÷ direct throughput (1 = free): the median over rounds of the two arms' ratio. */
  readonly throughputRatio: number;
  /** Router p50 minus direct p50, in ms. */
  readonly addedP50Ms: number;
  /** Per-round throughput ratios, to show the spread. */
  readonly roundRatios: readonly number[];
  /** Median over rounds of the control arm's throughput ÷ the direct arm's (ideally 1). */
  readonly controlRatio: number;
  readonly controlRatios: readonly number[];
  /**
   * Direct CPU per request ÷ router CPU per request: the throughput ratio the process would reach
   * if nothing else competed for the CPU (the benchmark is CPU-bound; other load on the machine
   * moves wall time, not CPU time).
   */
  readonly cpuRatio: number;
}

export const DEFAULT_OVERHEAD_OPTIONS: OverheadOptions = {
  concurrency: [1, 8],
  warmupRequests: 500,
  rounds: 48,
  requestsPerRound: 100,
};

/** The provider measured: the first in the registry's (priority) order. */
const PROVIDER = firstProvider();
const KEY = 'gsk_BenchOverheadKey000000000000000000001';

function firstProvider(): ProviderDescriptor {
  const descriptor = PROVIDERS[0];
  if (descriptor === undefined) throw new Error('the overhead benchmark needs a provider in the registry');
  return descriptor;
}
const MESSAGES = [{ role: 'user', content: 'How far is the moon from the earth?' }] as const;
const MAX_OUTPUT_TOKENS = 64;

type Call = () => Promise<unknown>;

/**
 * The arms of each round: the adapter alone, through the router, and the adapter alone again as
 * an A/A control (its ratio to the first shows how much the machine's noise alone moves a ratio).
 * Rounds cycle through every order, so no arm always runs first or right after another.
 */
type Arm = 'direct' | 'router' | 'control';
const ARM_ORDERS: readonly (readonly Arm[])[] = [
  ['direct', 'router', 'control'],
  ['router', 'control', 'direct'],
  ['control', 'direct', 'router'],
  ['control', 'router', 'direct'],
  ['router', 'direct', 'control'],
  ['direct', 'control', 'router'],
];

export async function runOverheadBenchmark(
  options: OverheadOptions = DEFAULT_OVERHEAD_OPTIONS,
): Promise<OverheadResult[]> {
  const server = await startFakeProviderServer({ keepAliveTimeoutMs: KEEP_ALIVE_MS, recordRequests: false });
  try {
    server.setHandler(() => ({ type: 'reply', text: 'ok', usage: { inputTokens: 12, outputTokens: 1 } }));
    const adapter: ProviderAdapter = PROVIDER.create({
      baseUrl: server.baseUrlFor(PROVIDER.name),
      model: PROVIDER.defaultModel,
      timeoutMs: 10_000,
      idleTimeoutMs: 10_000,
    });
    const directRequest: ChatRequest = { messages: MESSAGES, maxOutputTokens: MAX_OUTPUT_TOKENS, timeoutMs: 10_000 };
    const direct: Call = () => adapter.complete(directRequest, KEY);

    const results: OverheadResult[] = [];
    for (const concurrency of options.concurrency) {
      await runBatch(direct, options.warmupRequests, concurrency);
      await runBatch(routedCall(overheadRouter(adapter)), options.warmupRequests, concurrency);
      const arms: Record<Arm, ArmAccumulator> = { direct: emptyArm(), router: emptyArm(), control: emptyArm() };
      const roundRatios: number[] = [];
      const controlRatios: number[] = [];
      for (let round = 0; round < options.rounds; round++) {
        const routed = routedCall(overheadRouter(adapter));
        const rate: Record<Arm, number> = { direct: Number.NaN, router: Number.NaN, control: Number.NaN };
        for (const arm of ARM_ORDERS[round % ARM_ORDERS.length] ?? []) {
          const batch = await runBatch(arm === 'router' ? routed : direct, options.requestsPerRound, concurrency);
          arms[arm].latencies.push(...batch.latencies);
          arms[arm].elapsedMs += batch.elapsedMs;
          arms[arm].requests += batch.latencies.length;
          arms[arm].cpuMs += batch.cpuMs;
          rate[arm] = batch.latencies.length / batch.elapsedMs;
        }
        roundRatios.push(rate.router / rate.direct);
        controlRatios.push(rate.control / rate.direct);
      }
      const directArm = summarize(arms.direct);
      const routerArm = summarize(arms.router);
      results.push({
        concurrency,
        direct: directArm,
        router: routerArm,
        throughputRatio: median(roundRatios),
        addedP50Ms: routerArm.p50Ms - directArm.p50Ms,
        roundRatios,
        controlRatio: median(controlRatios),
        controlRatios,
        cpuRatio: directArm.cpuMicrosecondsPerRequest / routerArm.cpuMicrosecondsPerRequest,
      });
    }
    return results;
  } finally {
    await server.stop();
  }
}

function overheadRouter(adapter: ProviderAdapter, clock?: VirtualClock, quotaStore = new MemoryQuotaStore()): Router {
  return new Router({
    ...DEFAULT_ROUTER_SETTINGS,
    providers: [
      {
        descriptor: { ...PROVIDER, create: () => adapter },
        baseUrl: PROVIDER.defaultBaseUrl,
        model: adapter.model,
        keys: [KEY],
        // No limits: admission still runs in full (windows, day counters, scoring), it just never refuses.
        limits: {},
      },
    ],
    requestDeadlineMs: 10_000,
    attemptTimeoutMs: 10_000,
    firstTokenTimeoutMs: 10_000,
    streamIdleTimeoutMs: 10_000,
    quotaStore,
    ...(clock === undefined ? {} : { clock }),
  });
}

// ─── The router alone, by the size of the key's minute window ───────────────────────────────────

export interface WindowCost {
  /** Requests in the key's last minute when measured. */
  readonly windowEntries: number;
  /** Router CPU per request in µs, with an adapter that answers at once without HTTP. */
  readonly microsecondsPerRequest: number;
}

/**
 * The router's own cost per request (an in-process adapter, no HTTP) with `windowEntries`
 * requests already in the key's last minute, kept at that level while measuring by spacing the
 * requests 60 s / `windowEntries` apart on a virtual clock.
 */
export async function measureWindowCost(
  windowSizes: readonly number[],
  requests = 5_000,
  warmupRequests = 3_000,
): Promise<WindowCost[]> {
  const adapter = inProcessAdapter(PROVIDER);
  // Warm up (JIT, the tokenizer's tables) on a throwaway router before measuring anything.
  await runAtWindow(adapter, 30, warmupRequests);
  const results: WindowCost[] = [];
  for (const windowEntries of windowSizes) {
    results.push({ windowEntries, microsecondsPerRequest: await runAtWindow(adapter, windowEntries, requests) });
  }
  return results;
}

/** µs per request through a router whose key's minute window holds `windowEntries` requests. */
async function runAtWindow(adapter: ProviderAdapter, windowEntries: number, requests: number): Promise<number> {
  const start = Date.UTC(2026, 10, 26, 12);
  const clock = new VirtualClock(start);
  const store = new MemoryQuotaStore();
  const step = 60_000 / windowEntries;
  // Fill the window straight through the store (cheaper than through the router), then measure.
  const keyId = keyIdFor(PROVIDER.name, KEY);
  for (let entry = 0; entry < windowEntries; entry++) {
    await store.acquire({
      candidates: [{ keyId, limits: {} }],
      tokens: 90,
      reservationId: `fill-${entry}`,
      now: start - 60_000 + (entry + 1) * step,
      day: '2026-11-26',
    });
  }
  const call = routedCall(overheadRouter(adapter, clock, store));
  const started = performance.now();
  for (let index = 0; index < requests; index++) {
    await clock.advanceTo(clock.now() + step);
    await call();
  }
  return ((performance.now() - started) / requests) * 1000;
}

function routedCall(router: Router): Call {
  return () => router.complete({ messages: MESSAGES, maxOutputTokens: MAX_OUTPUT_TOKENS });
}

// ─── Measuring ───────────────────────────────────────────────────────────────────────────────────

interface ArmAccumulator {
  latencies: number[];
  elapsedMs: number;
  cpuMs: number;
  requests: number;
}

function emptyArm(): ArmAccumulator {
  return { latencies: [], elapsedMs: 0, cpuMs: 0, requests: 0 };
}

function summarize(arm: ArmAccumulator): ArmMeasurement {
  return {
    requests: arm.requests,
    elapsedMs: arm.elapsedMs,
    requestsPerSecond: (arm.requests / arm.elapsedMs) * 1000,
    p50Ms: median(arm.latencies),
    cpuMicrosecondsPerRequest: (arm.cpuMs / arm.requests) * 1000,
  };
}

/** `count` calls with `concurrency` in flight; every call's latency, and the wall and CPU time of the batch. */
async function runBatch(
  call: Call,
  count: number,
  concurrency: number,
): Promise<{ latencies: number[]; elapsedMs: number; cpuMs: number }> {
  const latencies: number[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      next += 1;
      const started = performance.now();
      await call();
      latencies.push(performance.now() - started);
    }
  };
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  const elapsedMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  return { latencies, elapsedMs, cpuMs: (cpu.user + cpu.system) / 1000 };
}
