import { DEFAULT_ROUTER_SETTINGS, isRouterError, PROVIDERS, ProviderError, Router } from '../providers';
import { MemoryQuotaStore } from '../storage/memory/quota-store';
import { inProcessAdapter, seededRandom } from './measure';
import { VirtualClock } from './virtual-clock';

/**
 * Benchmark 4: keys at the edge of their per-minute limits. Each key's provider counts a sliding
 * 60 s window from the moment a request ARRIVES (a little after the router reserved its slot: the
 * trip, 5–150 ms here), and refuses a request over the limit with a 429 that it does not count.
 * Demand is twice the pool's capacity for several minutes. What the router must manage: no 429
 * (it never sends a request a key would refuse), no user told "busy" while a key has had a free
 * slot for more than a second, and the whole capacity served. Virtual time, in-process adapters.
 *
 * The same run with the slot margin set to 0 (a slot reused exactly a minute after its
 * reservation, as the router did before) shows what the margin is for.
 */

export interface SlidingWindowOptions {
  readonly keys: number;
  readonly requestsPerMinute: number;
  /** Demand ÷ the pool's capacity. */
  readonly demandFactor: number;
  readonly minutes: number;
  readonly seed: number;
  /** The router's slot margin (undefined: the production default). */
  readonly slotMarginMs?: number;
}

export interface SlidingWindowResult {
  readonly options: SlidingWindowOptions;
  readonly label: string;
  readonly demand: number;
  /** Σ keys × RPM × minutes: what the keys can serve in the run, a window being a minute. */
  readonly capacity: number;
  readonly served: number;
  readonly refusedToUsers: number;
  /** Users told "busy" at a moment when some key had had a free slot for more than a second. */
  readonly refusedWithFreeSlot: number;
  readonly upstreamRequests: number;
  readonly upstream429s: number;
  /** What the keys counted during the demand's minutes ÷ `capacity`. */
  readonly servedShare: number;
}

export const DEFAULT_SLIDING_WINDOW_OPTIONS: SlidingWindowOptions = {
  keys: 4,
  requestsPerMinute: 10,
  demandFactor: 2,
  minutes: 4,
  seed: 20_261_203,
};

const MINUTE_MS = 60_000;
const TRIP_MIN_MS = 5;
const TRIP_MAX_MS = 150;

/** One key's provider-side window: arrival times of the requests it counted. */
class ProviderWindow {
  private readonly arrivals: number[] = [];

  constructor(private readonly limit: number) {}

  /** Requests counted in the window that ends at `at` (all arrivals are kept: a run has a few hundred). */
  countAt(at: number): number {
    let count = 0;
    for (const arrival of this.arrivals) if (arrival > at - MINUTE_MS && arrival <= at) count += 1;
    return count;
  }

  /** Admits a request arriving at `at`, or says how long until it would fit. */
  admit(at: number): { ok: true } | { ok: false; retryAfterMs: number } {
    if (this.countAt(at) < this.limit) {
      this.arrivals.push(at);
      return { ok: true };
    }
    const inWindow = this.arrivals.filter((arrival) => arrival > at - MINUTE_MS && arrival <= at).sort((a, b) => a - b);
    const oldest = inWindow[inWindow.length - this.limit] ?? at;
    return { ok: false, retryAfterMs: Math.max(1, oldest + MINUTE_MS - at) };
  }

  /** Arrivals counted before `end`. */
  countedBefore(end: number): number {
    return this.arrivals.filter((arrival) => arrival < end).length;
  }

  /** Whether a slot was free at every probe of the last second (the window only fills by arrivals). */
  freeThroughout(from: number, to: number): boolean {
    for (let probe = from; probe <= to; probe += 100) if (this.countAt(probe) >= this.limit) return false;
    return true;
  }
}

export async function runSlidingWindow(
  options: SlidingWindowOptions,
  label = options.slotMarginMs === 0 ? 'slot margin 0 (before)' : 'ours',
): Promise<SlidingWindowResult> {
  const start = Date.UTC(2026, 11, 3, 10, 0, 0);
  const clock = new VirtualClock(start);
  const random = seededRandom(options.seed);
  const [descriptor] = PROVIDERS;
  if (descriptor === undefined) throw new Error('the registry has no provider');
  const keys = Array.from({ length: options.keys }, (_, index) => `bench-sliding-key-${index + 1}-000000000000`);
  const windows = new Map(keys.map((key) => [key, new ProviderWindow(options.requestsPerMinute)]));
  let upstreamRequests = 0;
  let upstream429s = 0;
  const adapter = inProcessAdapter(descriptor, async (answer, _request, apiKey) => {
    upstreamRequests += 1;
    const arrival = clock.now() + TRIP_MIN_MS + random() * (TRIP_MAX_MS - TRIP_MIN_MS);
    const verdict = windows.get(apiKey)!.admit(arrival);
    if (verdict.ok) return answer;
    upstream429s += 1;
    throw new ProviderError({
      kind: 'rate_limited',
      provider: descriptor.name,
      status: 429,
      retryAfterMs: verdict.retryAfterMs,
      message: `rate limit reached: try again in ${(verdict.retryAfterMs / 1000).toFixed(3)}s`,
    });
  });
  const router = new Router({
    ...DEFAULT_ROUTER_SETTINGS,
    // Nothing stalls here, and on virtual time every hedge timer would look due.
    hedgeMaxShare: 0,
    providers: [
      {
        descriptor: { ...descriptor, create: () => adapter },
        baseUrl: descriptor.defaultBaseUrl,
        model: descriptor.defaultModel,
        keys,
        limits: { requestsPerMinute: options.requestsPerMinute },
      },
    ],
    quotaStore: new MemoryQuotaStore(options.slotMarginMs === undefined ? {} : { slotMarginMs: options.slotMarginMs }),
    clock,
  });

  const capacityPerMinute = options.keys * options.requestsPerMinute;
  const demandCount = Math.round(capacityPerMinute * options.demandFactor * options.minutes);
  const spacing = (options.minutes * MINUTE_MS) / demandCount;
  let served = 0;
  let refusedToUsers = 0;
  let refusedWithFreeSlot = 0;
  const tasks: Promise<unknown>[] = [];
  for (let index = 0; index < demandCount; index++) {
    await clock.advanceTo(start + index * spacing + random() * spacing);
    const run = async (): Promise<void> => {
      try {
        await router.complete({ messages: [{ role: 'user', content: `question ${index}` }], maxOutputTokens: 16 });
        served += 1;
      } catch (error) {
        if (!isRouterError(error)) throw error;
        refusedToUsers += 1;
        const now = clock.now();
        if ([...windows.values()].some((window) => window.freeThroughout(now - 1000, now))) refusedWithFreeSlot += 1;
      }
    };
    tasks.push((await clock.start(run)).done);
  }
  await clock.drain();
  await Promise.all(tasks);
  // Measured over the demand's minutes: what the keys counted in them against a full window a minute.
  const end = start + options.minutes * MINUTE_MS;
  const capacity = capacityPerMinute * options.minutes;
  const servedInWindow = [...windows.values()].reduce((sum, window) => sum + window.countedBefore(end), 0);
  return {
    options,
    label,
    demand: demandCount,
    capacity,
    served,
    refusedToUsers,
    refusedWithFreeSlot,
    upstreamRequests,
    upstream429s,
    servedShare: servedInWindow / capacity,
  };
}
