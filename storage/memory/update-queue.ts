import type { QueuedUpdate, UpdateQueue } from '../types';

interface Entry {
  readonly entryId: string;
  readonly updateId: number;
  readonly payload: string;
  deliveries: number;
  /** Who has it, and since when (undefined: nobody yet). */
  holder: { consumer: string; since: number } | undefined;
}

const SEEN_FOR_MS = 24 * 3_600_000;
const DEAD_LETTERS_KEPT = 1_000;

/**
 * The intake queue of one process (no Redis): the same rules as the Redis one, in memory. What it
 * holds is lost with the process, as history is.
 */
export class MemoryUpdateQueue implements UpdateQueue {
  private readonly entries = new Map<string, Entry>();
  private readonly seen = new Map<number, number>();
  private readonly dead: { updateId: number; reason: string }[] = [];
  private counter = 0;
  private waiters: (() => void)[] = [];

  constructor(private readonly now: () => number = Date.now) {}

  async append(updateId: number, payload: string): Promise<boolean> {
    const now = this.now();
    this.forgetSeen(now);
    if (this.seen.has(updateId)) return false;
    this.seen.set(updateId, now);
    const entryId = String(++this.counter);
    this.entries.set(entryId, { entryId, updateId, payload, deliveries: 0, holder: undefined });
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
    return true;
  }

  async take(consumer: string, count: number, blockMs: number): Promise<QueuedUpdate[]> {
    let taken = this.takeNow(consumer, count);
    if (taken.length > 0 || blockMs <= 0) return taken;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((waiter) => waiter !== wake);
        resolve();
      }, blockMs);
      const wake = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.waiters.push(wake);
    });
    taken = this.takeNow(consumer, count);
    return taken;
  }

  async reclaim(consumer: string, idleMs: number, count: number): Promise<QueuedUpdate[]> {
    const now = this.now();
    const claimed: QueuedUpdate[] = [];
    for (const entry of this.entries.values()) {
      if (claimed.length >= count) break;
      if (entry.holder === undefined || now - entry.holder.since < idleMs) continue;
      claimed.push(this.hand(entry, consumer, now));
    }
    return claimed;
  }

  async ack(entryIds: readonly string[]): Promise<void> {
    for (const entryId of entryIds) this.entries.delete(entryId);
  }

  async deadLetter(entry: QueuedUpdate, reason: string): Promise<void> {
    this.dead.push({ updateId: entry.updateId, reason });
    if (this.dead.length > DEAD_LETTERS_KEPT) this.dead.splice(0, this.dead.length - DEAD_LETTERS_KEPT);
    this.entries.delete(entry.entryId);
  }

  async backlog(): Promise<number> {
    return this.entries.size;
  }

  async deadLetters(count: number): Promise<{ updateId: number; reason: string }[]> {
    return this.dead.slice(-count);
  }

  private takeNow(consumer: string, count: number): QueuedUpdate[] {
    const now = this.now();
    const taken: QueuedUpdate[] = [];
    for (const entry of this.entries.values()) {
      if (taken.length >= count) break;
      if (entry.holder === undefined) taken.push(this.hand(entry, consumer, now));
    }
    return taken;
  }

  private hand(entry: Entry, consumer: string, now: number): QueuedUpdate {
    entry.deliveries += 1;
    entry.holder = { consumer, since: now };
    return { entryId: entry.entryId, updateId: entry.updateId, payload: entry.payload, deliveries: entry.deliveries };
  }

  /** Drops update ids seen more than a day ago (in insertion order, so the oldest come first). */
  private forgetSeen(now: number): void {
    for (const [updateId, at] of this.seen) {
      if (now - at < SEEN_FOR_MS) break;
      this.seen.delete(updateId);
    }
  }
}
