/**
 * Hedged requests: when an attempt has said nothing for longer than its provider usually takes,
 * the router starts one backup attempt elsewhere and keeps whichever answers first. Two parts live
 * here: how long to wait before hedging (from the provider's recent latencies), and a budget that
 * keeps hedges to a share of recent requests, so a healthy pool spends no extra free quota.
 */
import type { HealthSummary } from './health';

/** How much slower than its recent p95 an attempt must be before it is hedged. */
const HEDGE_P95_FACTOR = 1.5;
/** A hedge never waits longer than this share of the attempt's own timeout (later would be pointless). */
const HEDGE_TIMEOUT_SHARE = 0.75;

/** The provider's part of the delay: 1.5 × its recent p95, at least `minDelayMs` (the router keeps it a second). */
export function adaptiveHedgeDelayMs(health: HealthSummary, streaming: boolean, minDelayMs: number): number {
  const p95 = streaming ? health.firstTokenP95Ms : health.latencyP95Ms;
  return p95 === undefined ? minDelayMs : Math.max(minDelayMs, HEDGE_P95_FACTOR * p95);
}

/** The attempt's part: well below its own timeout. */
export function capHedgeDelayMs(delayMs: number, attemptTimeoutMs: number): number {
  return Math.min(delayMs, HEDGE_TIMEOUT_SHARE * attemptTimeoutMs);
}

/**
 * When to hedge an attempt: 1.5 × the provider's recent p95 (time to first token for a stream,
 * the whole answer otherwise), at least `minDelayMs`, and well below the attempt's timeout.
 */
export function hedgeDelayMs(
  health: HealthSummary,
  streaming: boolean,
  minDelayMs: number,
  attemptTimeoutMs: number,
): number {
  return capHedgeDelayMs(adaptiveHedgeDelayMs(health, streaming, minDelayMs), attemptTimeoutMs);
}

const BUCKET_MS = 10_000;
const BUCKETS = 6;
/** Hedges allowed in any minute whatever the traffic, so that a quiet bot can hedge too. */
const HEDGES_PER_MINUTE_FLOOR = 2;

/**
 * Requests and hedges over the last minute (six 10-second buckets): a hedge is allowed while the
 * minute's hedges stay under `maxShare` of its requests, or under a small floor for quiet bots.
 * Constant memory, O(1) per call.
 */
export class HedgeBudget {
  private readonly requests = new Array<number>(BUCKETS).fill(0);
  private readonly hedges = new Array<number>(BUCKETS).fill(0);
  private currentBucket = 0;

  constructor(private readonly maxShare: number) {}

  get enabled(): boolean {
    return this.maxShare > 0;
  }

  noteRequest(now: number): void {
    this.requests[this.rotate(now)]! += 1;
  }

  /**
   * Takes a hedge from the budget when one is left; with `force` (a provider is known to be
   * stalling, so the hedge is not speculative) it is counted but never refused.
   */
  tryTake(now: number, force = false): boolean {
    if (!this.enabled) return false;
    const index = this.rotate(now);
    if (!force) {
      let requests = 0;
      let hedges = 0;
      for (let bucket = 0; bucket < BUCKETS; bucket++) {
        requests += this.requests[bucket]!;
        hedges += this.hedges[bucket]!;
      }
      if (hedges + 1 > Math.max(HEDGES_PER_MINUTE_FLOOR, this.maxShare * requests)) return false;
    }
    this.hedges[index]! += 1;
    return true;
  }

  /** Gives back a hedge taken for nothing (no provider could take it). */
  giveBack(now: number): void {
    const index = this.rotate(now);
    if (this.hedges[index]! > 0) this.hedges[index]! -= 1;
  }

  /** The bucket of `now`, clearing the buckets that fell out of the window since the last call. */
  private rotate(now: number): number {
    const bucket = Math.floor(now / BUCKET_MS);
    if (bucket !== this.currentBucket) {
      const stale = Math.min(BUCKETS, Math.max(0, bucket - this.currentBucket));
      for (let step = 1; step <= stale; step++) {
        const index = (this.currentBucket + step) % BUCKETS;
        this.requests[index] = 0;
        this.hedges[index] = 0;
      }
      // A clock that went back (tests, a corrected wall clock) starts the window over.
      if (bucket < this.currentBucket) {
        this.requests.fill(0);
        this.hedges.fill(0);
      }
      this.currentBucket = bucket;
    }
    return bucket % BUCKETS;
  }
}

/** A pending hedge deadline; set `cancelled` once the attempt it watches has answered. */
export interface HedgeWatch {
  cancelled: boolean;
  readonly dueAt: number;
  readonly fire: () => void;
}

/**
 * Every pending hedge deadline of a router behind one timer: a timer (and its abort wiring) per
 * request cost more than the rest of the router's work on an answer. Deadlines are checked at most
 * every `granularityMs`, so a hedge may start that much late; cancelled deadlines are dropped when
 * the timer next fires.
 */
export class HedgeScheduler {
  private watches: HedgeWatch[] = [];
  /** When the earliest pending wake-up is due (Infinity: none). */
  private wakeAt = Number.POSITIVE_INFINITY;

  constructor(
    private readonly clock: { now(): number; sleep(ms: number): Promise<void> },
    private readonly granularityMs = 50,
  ) {}

  watch(dueAt: number, fire: () => void): HedgeWatch {
    const watch: HedgeWatch = { cancelled: false, dueAt, fire };
    this.watches.push(watch);
    if (dueAt < this.wakeAt) this.arm(dueAt);
    return watch;
  }

  private arm(dueAt: number): void {
    const at = Math.ceil(dueAt / this.granularityMs) * this.granularityMs;
    this.wakeAt = at;
    this.clock.sleep(Math.max(0, at - this.clock.now())).then(
      () => this.wake(at),
      () => this.wake(at),
    );
  }

  private wake(at: number): void {
    if (at === this.wakeAt) this.wakeAt = Number.POSITIVE_INFINITY;
    const now = this.clock.now();
    const due: HedgeWatch[] = [];
    const pending: HedgeWatch[] = [];
    let earliest = Number.POSITIVE_INFINITY;
    for (const watch of this.watches) {
      if (watch.cancelled) continue;
      if (watch.dueAt <= now) {
        due.push(watch);
      } else {
        pending.push(watch);
        if (watch.dueAt < earliest) earliest = watch.dueAt;
      }
    }
    this.watches = pending;
    if (earliest < this.wakeAt) this.arm(earliest);
    for (const watch of due) watch.fire();
  }
}

/** The events of one request's race, in the order they happen, for one consumer. */
export class RaceEvents<E> {
  private readonly queue: E[] = [];
  private waiter: ((event: E) => void) | undefined;

  push(event: E): void {
    const waiter = this.waiter;
    if (waiter === undefined) {
      this.queue.push(event);
      return;
    }
    this.waiter = undefined;
    waiter(event);
  }

  next(): Promise<E> {
    if (this.queue.length > 0) return Promise.resolve(this.queue.shift() as E);
    return new Promise<E>((resolve) => {
      this.waiter = resolve;
    });
  }
}
