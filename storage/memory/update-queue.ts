import type { ChatOrdering, ChatTicket, QueuedUpdate, UpdateQueue } from '../types';
import { MemoryChatOrdering } from './chat-ordering';

interface Entry {
  readonly entryId: string;
  readonly updateId: number;
  readonly payload: string;
  readonly ticket: ChatTicket | undefined;
  readonly firstInLine: boolean;
  deliveries: number;
  /** Who has it, and since when (undefined: nobody yet). */
  holder: { consumer: string; since: number } | undefined;
}

/** How many appended update ids are remembered, to queue an update fetched twice once. */
const SEEN_KEPT = 100_000;
const DEAD_LETTERS_KEPT = 1_000;

/**
 * The intake queue of one process: the same rules as the Redis one, in memory (for tests and
 * tools; the bot without Redis needs no queue). What it holds is lost with the process.
 */
export class MemoryUpdateQueue implements UpdateQueue {
  readonly ordering: ChatOrdering;
  private readonly lines: MemoryChatOrdering;
  private readonly entries = new Map<string, Entry>();
  /** Appended ids, oldest first (ids mostly come in ascending order). */
  private readonly seen = new Set<number>();
  private lowestForgotten = Number.NEGATIVE_INFINITY;
  private readonly dead: { updateId: number; reason: string }[] = [];
  private counter = 0;
  private waiters: (() => void)[] = [];

  constructor(private readonly now: () => number = Date.now) {
    this.lines = new MemoryChatOrdering();
    this.ordering = this.lines;
  }

  async append(updateId: number, payload: string, chatId?: string): Promise<boolean> {
    if (this.seen.has(updateId) || updateId <= this.lowestForgotten) return false;
    this.seen.add(updateId);
    if (this.seen.size > SEEN_KEPT) {
      const oldest = this.seen.values().next().value as number;
      this.seen.delete(oldest);
      this.lowestForgotten = Math.max(this.lowestForgotten, oldest);
    }
    const ticket = chatId === undefined ? undefined : await this.lines.take(chatId);
    const firstInLine = ticket !== undefined && this.lines.servedUpTo(ticket.chatId) >= ticket.number - 1;
    const entryId = String(++this.counter);
    this.entries.set(entryId, { entryId, updateId, payload, ticket, firstInLine, deliveries: 0, holder: undefined });
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
    return true;
  }

  async confirmDurable(): Promise<boolean> {
    return true; // one process, no replicas
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

  async touch(consumer: string, holding: readonly string[]): Promise<QueuedUpdate[]> {
    const now = this.now();
    const held = new Set(holding);
    const lost: QueuedUpdate[] = [];
    for (const entry of this.entries.values()) {
      if (entry.holder?.consumer !== consumer) continue;
      if (held.has(entry.entryId)) entry.holder.since = now;
      else lost.push(this.hand(entry, consumer, now));
    }
    return lost;
  }

  async complete(entry: QueuedUpdate, markTurn: boolean): Promise<void> {
    this.entries.delete(entry.entryId);
    if (markTurn && entry.ticket !== undefined) await this.lines.done(entry.ticket);
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
    return {
      entryId: entry.entryId,
      updateId: entry.updateId,
      payload: entry.payload,
      deliveries: entry.deliveries,
      ...(entry.ticket === undefined ? {} : { ticket: entry.ticket, firstInLine: entry.firstInLine }),
    };
  }
}
