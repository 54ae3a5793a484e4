/**
 * Recent health of one provider over a real sliding time window: success rate, latency to the first
 * token and to the whole answer. Bounded in time and in count, so memory stays flat.
 */
import { percentile } from '../shared/percentile';

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
  readonly firstTokenP95Ms: number | undefined;
}

export class HealthWindow {
  /** The last `maxSamples` samples in a ring (recorded on every answer: O(1), no shifting). */
  private readonly ring: (HealthSample | undefined)[];
  private next = 0;

  constructor(
    private readonly windowMs = 5 * 60_000,
    private readonly maxSamples = 200,
  ) {
    this.ring = new Array<HealthSample | undefined>(maxSamples).fill(undefined);
  }

  record(sample: HealthSample): void {
    this.ring[this.next] = sample;
    this.next = (this.next + 1) % this.maxSamples;
  }

  summary(now: number): HealthSummary {
    const cutoff = now - this.windowMs;
    const recent: HealthSample[] = [];
    for (const sample of this.ring) if (sample !== undefined && sample.at >= cutoff) recent.push(sample);
    if (recent.length === 0) {
      return {
        samples: 0,
        successRate: undefined,
        latencyP50Ms: undefined,
        latencyP95Ms: undefined,
        firstTokenP50Ms: undefined,
        firstTokenP95Ms: undefined,
      };
    }
    const successes = recent.filter((sample) => sample.ok);
    const latencies = successes.map((sample) => sample.latencyMs);
    const firstTokens = successes.flatMap((sample) =>
      sample.timeToFirstTokenMs === undefined ? [] : [sample.timeToFirstTokenMs],
    );
    return {
      samples: recent.length,
      successRate: successes.length / recent.length,
      latencyP50Ms: percentile(latencies, 0.5),
      latencyP95Ms: percentile(latencies, 0.95),
      firstTokenP50Ms: percentile(firstTokens, 0.5),
      firstTokenP95Ms: percentile(firstTokens, 0.95),
    };
  }
}
