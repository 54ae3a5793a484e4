import type { CounterStore } from '../types';

/** Fixed-window counters of one process; expired windows are swept so memory stays bounded. */
export class MemoryCounterStore implements CounterStore {
  private readonly counters = new Map<string, { count: number; resetAt: number }>();
  private sweepAt = 0;

  async increment(key: string, windowMs: number, now: number): Promise<{ count: number; resetAt: number }> {
    this.sweep(now);
    const current = this.counters.get(key);
    const counter = current === undefined || current.resetAt <= now ? { count: 0, resetAt: now + windowMs } : current;
    counter.count += 1;
    this.counters.set(key, counter);
    return { ...counter };
  }

  async reserve(
    key: string,
    amount: number,
    limit: number,
    windowMs: number,
    now: number,
  ): Promise<{ reserved: boolean; total: number; resetAt: number }> {
    this.sweep(now);
    const current = this.counters.get(key);
    const counter = current === undefined || current.resetAt <= now ? { count: 0, resetAt: now + windowMs } : current;
    if (counter.count + amount > limit) return { reserved: false, total: counter.count, resetAt: counter.resetAt };
    counter.count += amount;
    this.counters.set(key, counter);
    return { reserved: true, total: counter.count, resetAt: counter.resetAt };
  }

  async release(key: string, amount: number, now: number): Promise<void> {
    const current = this.counters.get(key);
    if (current === undefined || current.resetAt <= now) return;
    current.count = Math.max(0, current.count - amount);
  }

  async peek(key: string, now: number): Promise<number> {
    const current = this.counters.get(key);
    return current === undefined || current.resetAt <= now ? 0 : current.count;
  }

  private sweep(now: number): void {
    if (now < this.sweepAt) return;
    this.sweepAt = now + 60_000;
    for (const [key, counter] of this.counters) if (counter.resetAt <= now) this.counters.delete(key);
  }
}
