/**
 * Recent health of one provider over a real sliding time window: success rate, latency to the first
 * token and to the whole answer. Bounded in time and in count, so memory stays flat.
 */
export interface HealthSample {
  readonly at: number;
  readonly ok: boolean;
  readonly latencyMs: number;
  readonly timeToFirstTokenMs: number | undefined;
}

export interface HealthSummary {
  readonly samples: number;
  readonly successRate: number | undefined;
  readonly latencyP50Ms: number | undefined;
  readonly latencyP95Ms: number | undefined;
  readonly firstTokenP50Ms: number | undefined;
}

export class HealthWindow {
  private readonly samples: HealthSample[] = [];

  constructor(
    private readonly windowMs = 5 * 60_000,
    private readonly maxSamples = 200,
  ) {}

  record(sample: HealthSample): void {
    this.samples.push(sample);
    if (this.samples.length > this.maxSamples) this.samples.shift();
  }

  summary(now: number): HealthSummary {
    this.prune(now);
    const recent = this.samples;
    if (recent.length === 0) {
      return { samples: 0, successRate: undefined, latencyP50Ms: undefined, latencyP95Ms: undefined, firstTokenP50Ms: undefined };
    }
    const successes = recent.filter((sample) => sample.ok);
    const latencies = successes.map((sample) => sample.latencyMs);
    const firstTokens = successes.flatMap((sample) => (sample.timeToFirstTokenMs === undefined ? [] : [sample.timeToFirstTokenMs]));
    return {
      samples: recent.length,
      successRate: successes.length / recent.length,
      latencyP50Ms: percentile(latencies, 0.5),
      latencyP95Ms: percentile(latencies, 0.95),
      firstTokenP50Ms: percentile(firstTokens, 0.5),
    };
  }

  private prune(now: number): void {
    const cutoff = now - this.windowMs;
    let expired = 0;
    while (expired < this.samples.length && (this.samples[expired]?.at ?? 0) < cutoff) expired++;
    if (expired > 0) this.samples.splice(0, expired);
  }
}

/** Nearest-rank percentile; `undefined` for no values. */
export function percentile(values: readonly number[], fraction: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1));
  return sorted[rank];
}
