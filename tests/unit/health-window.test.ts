import { describe, expect, it } from '@jest/globals';
import { HealthWindow } from '../../providers/router/health';

const sample = (at: number, latencyMs: number, ok = true) => ({ at, ok, latencyMs, timeToFirstTokenMs: undefined });

describe('HealthWindow', () => {
  it('summarises only the most recent samples, up to its capacity', () => {
    const window = new HealthWindow(60_000, 10);
    for (let index = 1; index <= 25; index++) window.record(sample(1000 + index, index));
    const summary = window.summary(2000);
    // Samples 16…25 remain: the oldest 15 made room.
    expect(summary.samples).toBe(10);
    expect(summary.latencyP50Ms).toBe(20);
    expect(summary.latencyP95Ms).toBe(25);
  });

  it('leaves out samples older than its time window, and counts failures in the success rate', () => {
    const window = new HealthWindow(60_000, 200);
    window.record(sample(0, 900));
    window.record(sample(50_000, 100));
    window.record(sample(70_000, 300, false));
    window.record(sample(80_000, 200));
    const summary = window.summary(100_000);
    expect(summary.samples).toBe(3);
    expect(summary.successRate).toBeCloseTo(2 / 3);
    expect(summary.latencyP95Ms).toBe(200);
    expect(new HealthWindow().summary(0)).toMatchObject({ samples: 0, successRate: undefined });
  });
});
