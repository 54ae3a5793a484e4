import type { Lease } from '../types';

/** A lease within one process, with the same rules as the Redis one (for tests and tools). */
export class MemoryLease implements Lease {
  private held: { holder: string; until: number } | undefined;

  constructor(private readonly now: () => number = Date.now) {}

  async acquire(holder: string, ttlMs: number): Promise<boolean> {
    const now = this.now();
    if (this.held !== undefined && this.held.until > now && this.held.holder !== holder) return false;
    this.held = { holder, until: now + ttlMs };
    return true;
  }

  async release(holder: string): Promise<void> {
    if (this.held?.holder === holder) this.held = undefined;
  }
}
