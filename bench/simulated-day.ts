import {
  type ChatMessage,
  DEFAULT_ROUTER_SETTINGS,
  isRouterError,
  nextQuotaDayStart,
  PROVIDERS,
  type ProviderAdapter,
  type ProviderDescriptor,
  type RouteRequest,
  Router,
} from '../providers';
import { MemoryQuotaStore } from '../storage/memory/quota-store';
import { startFakeProviderServer } from '../tests/fakes/provider-server';
import { countInputTokens, type EnforcerTotals, LimitEnforcer } from './limit-enforcer';
import { KEEP_ALIVE_MS, percentileOrNaN, seededRandom } from './measure';
import { NaiveRouter, NaiveRouterError } from './naive-router';
import { VirtualClock } from './virtual-clock';

/**
 * Benchmark 3: a day of demand on virtual time. Every provider's keys get their free-tier limits
 * (each descriptor's `defaultLimits`), enforced per key by the fake server (`LimitEnforcer`);
 * demand follows a daily curve whose peak exceeds what the pool can serve, so quotas run out.
 * The same demand (same seed) goes through our Router and through the naive router, each with a
 * fresh server, enforcer and clock. Requests are issued one after another in time order; a router
 * that waits for a key moves virtual time forward, and requests that arrived meanwhile are issued
 * when it is done (a queue in front of a single worker).
 */

export interface SimulatedDayOptions {
  /** Virtual start time (ms since epoch). */
  readonly start: number;
  readonly hours: number;
  /** Keys per provider (by name); providers left out get none. */
  readonly keysPerProvider: Readonly<Record<string, number>>;
  /** Demand at its peak, as a multiple of the pool's capacity rate (Σ daily quota spread evenly over a day). */
  readonly peakFactor: number;
  /** Demand on average over a day (before the floor), as the same multiple. */
  readonly meanFactor: number;
  /** Lowest demand, as the same multiple. */
  readonly floorFactor: number;
  /** Hour (from `start`) at which demand peaks. */
  readonly peakAtHour: number;
  readonly seed: number;
  readonly maxOutputTokens: number;
  /** Our router's `maxWaitMs`; its production default when omitted. */
  readonly maxWaitMs?: number;
}

/** Below this many requests a day, a pool owner adds a second key to a provider. */
const SMALL_DAILY_QUOTA = 1_000;

/** Every registry provider: two keys when its free day is small (under 1,000 requests), one otherwise. */
export function defaultKeysPerProvider(): Record<string, number> {
  return Object.fromEntries(
    PROVIDERS.map((descriptor) => [
      descriptor.name,
      (descriptor.defaultLimits.requestsPerDay ?? Number.POSITIVE_INFINITY) < SMALL_DAILY_QUOTA ? 2 : 1,
    ]),
  );
}

export const DEFAULT_DAY_OPTIONS: SimulatedDayOptions = {
  start: Date.UTC(2026, 10, 26, 0, 0, 0),
  hours: 24,
  keysPerProvider: defaultKeysPerProvider(),
  peakFactor: 3,
  meanFactor: 1.2,
  floorFactor: 0.1,
  peakAtHour: 14,
  seed: 20_261_126,
  maxOutputTokens: 64,
};

interface DemandItem {
  readonly index: number;
  /** Virtual arrival time. */
  readonly at: number;
  readonly messages: readonly ChatMessage[];
  /** Length of the answer the fake gives. */
  readonly outputTokens: number;
}

export interface DayRunResult {
  readonly label: string;
  readonly userRequests: number;
  readonly served: number;
  readonly failed: number;
  readonly failedByKind: Readonly<Record<string, number>>;
  /** Failures at a moment when, by the enforcer's accounting, some key had room for the request. */
  readonly failedWithRoom: number;
  readonly failedWithRoomExamples: readonly string[];
  readonly upstream: EnforcerTotals;
  /** served ÷ Σ daily quota of all keys (`dayQuota`). */
  readonly shareOfCapacity: number;
  /** served ÷ the capacity the window offers (a key whose quota day turns inside it counts twice). */
  readonly shareOfWindowCapacity: number;
  /** Upstream 429s ÷ upstream requests. */
  readonly refusedShare: number;
  /** From arrival to answer or failure, in virtual ms (queueing behind earlier requests + waiting for keys). */
  readonly delayP95Ms: number;
  readonly delayMaxMs: number;
  /** Requests that waited (virtual time passed before their outcome) and were then answered / refused. */
  readonly waitedThenServed: number;
  readonly waitedThenFailed: number;
  /** Virtual time of the last answer (when the pool ran dry, if it did). */
  readonly lastServedAt: number | undefined;
  readonly wallMs: number;
}

export interface SimulatedDayResult {
  readonly options: SimulatedDayOptions;
  readonly keys: number;
  /** Σ daily quota of all keys (`dayQuota`: RPD, or a monthly quota whole). */
  readonly capacity: number;
  /** Σ over keys and the quota days the window overlaps (a key whose day resets mid-window counts twice), capped by RPM. */
  readonly windowCapacity: number;
  readonly demand: number;
  readonly demandPeakPerMinute: number;
  readonly capacityRatePerMinute: number;
  readonly averageTokensPerRequest: number;
  readonly ours: DayRunResult;
  /** Our router with plain priority order (no reset-aware spending), as it was before. */
  readonly oursPriorityOnly: DayRunResult;
  readonly naive: DayRunResult;
}

interface PoolProvider {
  readonly descriptor: ProviderDescriptor;
  readonly keys: readonly string[];
}

export async function runSimulatedDay(options: SimulatedDayOptions = DEFAULT_DAY_OPTIONS): Promise<SimulatedDayResult> {
  const pool: PoolProvider[] = PROVIDERS.flatMap((descriptor) => {
    const count = options.keysPerProvider[descriptor.name] ?? 0;
    if (count === 0) return [];
    const keys = Array.from({ length: count }, (_, index) => `bench-${descriptor.name}-key-${index + 1}-000000000000`);
    return [{ descriptor, keys }];
  });
  const capacity = pool.reduce((sum, { descriptor, keys }) => sum + keys.length * dayQuota(descriptor), 0);
  const end = options.start + options.hours * 3_600_000;
  const windowCapacity = pool.reduce(
    (sum, provider) => sum + provider.keys.length * keyWindowCapacity(provider.descriptor, options.start, end),
    0,
  );
  const capacityRatePerMinute = capacity / 1440;
  const demand = buildDemand(options, capacityRatePerMinute);

  const ourRouter =
    (resetAwareSpending: boolean) =>
    (adapters: ReadonlyMap<string, ProviderAdapter>, clock: VirtualClock): Complete => {
      const router = new Router({
        // The production defaults, except for the clock and hedging: a simulated day has no stalls
        // to hedge, and on virtual time every hedge timer would look due.
        ...DEFAULT_ROUTER_SETTINGS,
        hedgeMaxShare: 0,
        resetAwareSpending,
        providers: pool.map(({ descriptor, keys }) => {
          const adapter = adapters.get(descriptor.name)!;
          return {
            descriptor: { ...descriptor, create: () => adapter },
            baseUrl: descriptor.defaultBaseUrl,
            model: adapter.model,
            keys,
            limits: descriptor.defaultLimits,
          };
        }),
        ...(options.maxWaitMs === undefined ? {} : { maxWaitMs: options.maxWaitMs }),
        quotaStore: new MemoryQuotaStore(),
        clock,
        random: seededRandom(options.seed),
      });
      return (request) => router.complete(request);
    };
  const ours = await runDay('ours', pool, demand, options, ourRouter(true));
  const oursPriorityOnly = await runDay('ours, priority only', pool, demand, options, ourRouter(false));
  const naive = await runDay('naive', pool, demand, options, (adapters) => {
    const router = new NaiveRouter(
      pool.map(({ descriptor, keys }) => ({ name: descriptor.name, adapter: adapters.get(descriptor.name)!, keys })),
    );
    return (request) => router.complete(request);
  });

  const shares = (run: DayRunResult): DayRunResult => ({
    ...run,
    shareOfCapacity: run.served / capacity,
    shareOfWindowCapacity: run.served / windowCapacity,
  });
  const tokens = demand.reduce((sum, item) => sum + item.outputTokens + countInputTokens(item.messages), 0);
  return {
    options,
    keys: pool.reduce((sum, provider) => sum + provider.keys.length, 0),
    capacity,
    windowCapacity,
    demand: demand.length,
    demandPeakPerMinute: capacityRatePerMinute * options.peakFactor,
    capacityRatePerMinute,
    averageTokensPerRequest: demand.length === 0 ? 0 : tokens / demand.length,
    ours: shares(ours),
    oursPriorityOnly: shares(oursPriorityOnly),
    naive: shares(naive),
  };
}

type Complete = (request: RouteRequest) => Promise<unknown>;

async function runDay(
  label: string,
  pool: readonly PoolProvider[],
  demand: readonly DemandItem[],
  options: SimulatedDayOptions,
  buildRouter: (adapters: ReadonlyMap<string, ProviderAdapter>, clock: VirtualClock) => Complete,
): Promise<DayRunResult> {
  const wallStarted = performance.now();
  const clock = new VirtualClock(options.start);
  const now = (): number => clock.now();
  const server = await startFakeProviderServer({ now, keepAliveTimeoutMs: KEEP_ALIVE_MS, recordRequests: false });
  try {
    const enforcer = new LimitEnforcer({
      providers: pool.map(({ descriptor }) => ({
        name: descriptor.name,
        limits: descriptor.defaultLimits,
        dailyResetZone: descriptor.dailyResetZone,
      })),
      now,
      answer: (request) => {
        const index = Number(/#(\d+)/.exec(request.messages.at(-1)?.content ?? '')?.[1] ?? Number.NaN);
        const outputTokens = demand[index]?.outputTokens ?? 16;
        return {
          text: Array.from({ length: outputTokens }, (_, word) => ANSWER_WORDS[word % ANSWER_WORDS.length]).join(' '),
          outputTokens,
        };
      },
    });
    for (const { descriptor, keys } of pool) for (const key of keys) enforcer.register(descriptor.name, key);
    server.setHandler(enforcer.handle);
    const adapters = new Map(
      pool.map(({ descriptor }) => [
        descriptor.name,
        descriptor.create({
          // The fake mounts each wire format under its name, with the real API's paths below it.
          baseUrl: server.url(descriptor.name) + new URL(descriptor.defaultBaseUrl).pathname.replace(/\/$/, ''),
          model: descriptor.defaultModel,
          timeoutMs: 20_000,
          idleTimeoutMs: 10_000,
          now,
        }),
      ]),
    );
    const complete = buildRouter(adapters, clock);

    let served = 0;
    let lastServedAt: number | undefined;
    let failedWithRoom = 0;
    const failedByKind: Record<string, number> = {};
    const examples: string[] = [];
    const delays: number[] = [];
    let waitedThenServed = 0;
    let waitedThenFailed = 0;
    const tasks: Promise<void>[] = [];
    const serve = async (item: DemandItem): Promise<void> => {
      try {
        await complete({ messages: item.messages, maxOutputTokens: options.maxOutputTokens });
        served += 1;
        lastServedAt = clock.now();
        if (clock.now() > item.at) waitedThenServed += 1;
      } catch (error) {
        const kind = isRouterError(error)
          ? error.kind
          : error instanceof NaiveRouterError
            ? 'every_key_failed'
            : undefined;
        if (kind === undefined) throw error;
        failedByKind[kind] = (failedByKind[kind] ?? 0) + 1;
        if (clock.now() > item.at) waitedThenFailed += 1;
        // Asked while virtual time still stands at the moment of failure.
        const roomOn = enforcer.keyWithRoom(item.messages, item.outputTokens, options.maxOutputTokens);
        if (roomOn !== undefined) {
          failedWithRoom += 1;
          if (examples.length < 5) {
            const message = error instanceof Error ? error.message : String(error);
            examples.push(
              `${new Date(clock.now()).toISOString()} ${kind} while ${roomOn} had room: ${message.slice(0, 300)}`,
            );
          }
        }
      }
      delays.push(clock.now() - item.at);
    };
    for (const item of demand) {
      await clock.advanceTo(item.at);
      tasks.push((await clock.start(() => serve(item))).done);
    }
    await clock.drain();
    await Promise.all(tasks);
    const upstream = enforcer.totals();
    const failed = demand.length - served;
    return {
      label,
      userRequests: demand.length,
      served,
      failed,
      failedByKind,
      failedWithRoom,
      failedWithRoomExamples: examples,
      upstream,
      shareOfCapacity: Number.NaN,
      shareOfWindowCapacity: Number.NaN,
      refusedShare: upstream.upstreamRequests === 0 ? 0 : upstream.refused / upstream.upstreamRequests,
      delayP95Ms: percentileOrNaN(delays, 0.95),
      delayMaxMs: delays.reduce((max, delay) => Math.max(max, delay), 0),
      waitedThenServed,
      waitedThenFailed,
      lastServedAt,
      wallMs: performance.now() - wallStarted,
    };
  } finally {
    await server.stop();
  }
}

// ─── Demand ──────────────────────────────────────────────────────────────────────────────────────

const PROMPT_WORDS = [
  'how',
  'do',
  'I',
  'say',
  'hello',
  'in',
  'Persian',
  'what',
  'is',
  'the',
  'weather',
  'like',
  'today',
  'please',
  'explain',
  'recursion',
  'briefly',
  'translate',
  'this',
  'sentence',
  'into',
  'German',
  'why',
  'sky',
  'blue',
];
const ANSWER_WORDS = ['sure', 'here', 'is', 'a', 'short', 'answer', 'to', 'your', 'question'];

/** Arrivals of a non-homogeneous Poisson process (by thinning), with short chat prompts. */
function buildDemand(options: SimulatedDayOptions, capacityRatePerMinute: number): DemandItem[] {
  const random = seededRandom(options.seed);
  const rateAt = (at: number): number => {
    const hour = (at - options.start) / 3_600_000;
    const swing = options.peakFactor - options.meanFactor;
    const factor = options.meanFactor + swing * Math.cos((2 * Math.PI * (hour - options.peakAtHour)) / 24);
    return (capacityRatePerMinute * Math.max(options.floorFactor, factor)) / 60_000;
  };
  const peakRate = (capacityRatePerMinute * Math.max(options.peakFactor, options.floorFactor)) / 60_000;
  const end = options.start + options.hours * 3_600_000;
  const items: DemandItem[] = [];
  let at = options.start;
  while (peakRate > 0) {
    at += -Math.log(1 - random()) / peakRate;
    if (at >= end) break;
    if (random() * peakRate > rateAt(at)) continue;
    const index = items.length;
    const words = 6 + Math.floor(random() * 19);
    const prompt = Array.from({ length: words }, () => PROMPT_WORDS[Math.floor(random() * PROMPT_WORDS.length)]).join(
      ' ',
    );
    items.push({
      index,
      at: Math.floor(at),
      messages: [{ role: 'user', content: `#${index} ${prompt}` }],
      outputTokens: 8 + Math.floor(random() * 25),
    });
  }
  return items;
}

/**
 * A key's requests in one quota day: its RPD, or, for a quota counted by the month (trial
 * keys of one provider), the whole month's, since the simulated day is the only one of its month that spends it.
 */
function dayQuota(descriptor: ProviderDescriptor): number {
  return descriptor.defaultLimits.requestsPerDay ?? descriptor.defaultLimits.requestsPerMonth ?? 0;
}

/**
 * Requests one key can serve between `start` and `end`: RPD per quota day it overlaps, capped by
 * RPM, and by the monthly quota (the window is shorter than a month and starts with it unspent).
 */
function keyWindowCapacity(descriptor: ProviderDescriptor, start: number, end: number): number {
  const { requestsPerDay, requestsPerMinute, requestsPerMonth } = descriptor.defaultLimits;
  let total = 0;
  for (let from = start; from < end; ) {
    const to = Math.min(end, nextQuotaDayStart(from, descriptor.dailyResetZone));
    const byMinute =
      requestsPerMinute === undefined ? Number.POSITIVE_INFINITY : requestsPerMinute * Math.ceil((to - from) / 60_000);
    total += Math.min(requestsPerDay ?? Number.POSITIVE_INFINITY, byMinute);
    from = to;
  }
  return Math.min(total, requestsPerMonth ?? Number.POSITIVE_INFINITY);
}
