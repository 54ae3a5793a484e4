import { type AttemptRecord, type HedgeOutcome, percentile, type RouterObserver } from '../../providers';

const MINUTE_MS = 60_000;
/** Latencies kept per minute for its percentiles: enough for p95, bounded under any load. */
const LATENCIES_PER_MINUTE = 256;

/** One minute of this process's provider attempts. */
interface MinuteBucket {
  minute: number;
  attempts: number;
  successes: number;
  fallbacks: number;
  hedgesWon: number;
  hedgesLost: number;
  /** Latencies of successful attempts (ms), the first LATENCIES_PER_MINUTE then a reservoir sample. */
  latencies: number[];
  successesSeen: number;
}

/** The timeline as plain data, oldest minute first; `null` where a minute had nothing to measure. */
export interface TimelineSeries {
  /** Each minute's start, epoch seconds. */
  readonly minutes: number[];
  readonly attempts: number[];
  readonly successes: number[];
  readonly failures: number[];
  readonly fallbacks: number[];
  readonly hedges: number[];
  readonly successRate: (number | null)[];
  readonly latencyP50Ms: (number | null)[];
  readonly latencyP95Ms: (number | null)[];
}

export interface TimelineSummary {
  readonly minutes: number;
  readonly attempts: number;
  readonly successes: number;
  readonly successRate: number | undefined;
  readonly fallbacks: number;
  readonly hedgesWon: number;
  readonly hedgesLost: number;
  readonly latencyP50Ms: number | undefined;
  readonly latencyP95Ms: number | undefined;
}

/**
 * A ring of per-minute samples of the router's attempts in this process (the dashboard's charts),
 * fed as a router observer: O(1) per attempt, a fixed number of minutes kept. Each process keeps
 * its own; the stats store holds the pool's shared day counters.
 */
export class Timeline implements RouterObserver {
  private readonly ring: (MinuteBucket | undefined)[];

  constructor(
    private readonly now: () => number,
    readonly keepMinutes = 360,
    private readonly random: () => number = Math.random,
  ) {
    this.ring = new Array<MinuteBucket | undefined>(keepMinutes).fill(undefined);
  }

  readonly attempt = (record: AttemptRecord): void => {
    const bucket = this.bucket(this.now());
    bucket.attempts += 1;
    if (record.outcome !== 'success') return;
    bucket.successes += 1;
    if (record.fallback) bucket.fallbacks += 1;
    bucket.successesSeen += 1;
    if (bucket.latencies.length < LATENCIES_PER_MINUTE) bucket.latencies.push(record.latencyMs);
    else {
      const slot = Math.floor(this.random() * bucket.successesSeen);
      if (slot < LATENCIES_PER_MINUTE) bucket.latencies[slot] = record.latencyMs;
    }
  };

  readonly hedge = (outcome: HedgeOutcome): void => {
    const bucket = this.bucket(this.now());
    if (outcome.won) bucket.hedgesWon += 1;
    else bucket.hedgesLost += 1;
  };

  /** The last `minutes` minutes (the current one included), oldest first. */
  series(minutes = this.keepMinutes): TimelineSeries {
    const span = Math.min(Math.max(1, minutes), this.keepMinutes);
    const current = Math.floor(this.now() / MINUTE_MS);
    const series: TimelineSeries = {
      minutes: [],
      attempts: [],
      successes: [],
      failures: [],
      fallbacks: [],
      hedges: [],
      successRate: [],
      latencyP50Ms: [],
      latencyP95Ms: [],
    };
    for (let minute = current - span + 1; minute <= current; minute++) {
      const bucket = this.at(minute);
      series.minutes.push((minute * MINUTE_MS) / 1000);
      series.attempts.push(bucket?.attempts ?? 0);
      series.successes.push(bucket?.successes ?? 0);
      series.failures.push(bucket === undefined ? 0 : bucket.attempts - bucket.successes);
      series.fallbacks.push(bucket?.fallbacks ?? 0);
      series.hedges.push(bucket === undefined ? 0 : bucket.hedgesWon + bucket.hedgesLost);
      series.successRate.push(
        bucket === undefined || bucket.attempts === 0 ? null : bucket.successes / bucket.attempts,
      );
      series.latencyP50Ms.push(round(percentile(bucket?.latencies ?? [], 0.5)));
      series.latencyP95Ms.push(round(percentile(bucket?.latencies ?? [], 0.95)));
    }
    return series;
  }

  /** Totals and percentiles over the last `minutes` minutes. */
  summary(minutes: number): TimelineSummary {
    const span = Math.min(Math.max(1, minutes), this.keepMinutes);
    const current = Math.floor(this.now() / MINUTE_MS);
    let attempts = 0;
    let successes = 0;
    let fallbacks = 0;
    let hedgesWon = 0;
    let hedgesLost = 0;
    const latencies: number[] = [];
    for (let minute = current - span + 1; minute <= current; minute++) {
      const bucket = this.at(minute);
      if (bucket === undefined) continue;
      attempts += bucket.attempts;
      successes += bucket.successes;
      fallbacks += bucket.fallbacks;
      hedgesWon += bucket.hedgesWon;
      hedgesLost += bucket.hedgesLost;
      latencies.push(...bucket.latencies);
    }
    return {
      minutes: span,
      attempts,
      successes,
      successRate: attempts === 0 ? undefined : successes / attempts,
      fallbacks,
      hedgesWon,
      hedgesLost,
      latencyP50Ms: round(percentile(latencies, 0.5)) ?? undefined,
      latencyP95Ms: round(percentile(latencies, 0.95)) ?? undefined,
    };
  }

  private at(minute: number): MinuteBucket | undefined {
    const bucket = this.ring[minute % this.keepMinutes];
    return bucket?.minute === minute ? bucket : undefined;
  }

  private bucket(at: number): MinuteBucket {
    const minute = Math.floor(at / MINUTE_MS);
    const existing = this.at(minute);
    if (existing !== undefined) return existing;
    const fresh: MinuteBucket = {
      minute,
      attempts: 0,
      successes: 0,
      fallbacks: 0,
      hedgesWon: 0,
      hedgesLost: 0,
      latencies: [],
      successesSeen: 0,
    };
    this.ring[minute % this.keepMinutes] = fresh;
    return fresh;
  }
}

function round(value: number | undefined): number | null {
  return value === undefined ? null : Math.round(value);
}
