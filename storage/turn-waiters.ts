import type { ChatTicket } from './types';

/** setTimeout fires at once for longer delays. */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface Waiter {
  readonly ticket: number;
  readonly maxWaitMs: number;
  timer: NodeJS.Timeout | undefined;
  settle(outcome: 'turn' | 'gave-up' | Error): void;
}

interface ChatLine {
  /** The highest served number learned so far: every ticket up to it is done. */
  served: number;
  /** Sorted by ticket. */
  readonly waiters: Waiter[];
  recheck: NodeJS.Timeout | undefined;
  reading: boolean;
}

export interface TurnWaitersOptions {
  /** Reads a chat's served number from the shared store; the memory store has none. */
  readonly read?: (chatId: string) => Promise<number>;
  /** How often a waited-on chat is read again, in case a notification was lost. */
  readonly recheckMs?: number;
}

/**
 * The tickets this process waits on, by chat. They are woken when the chat's served number is
 * learned (a notification, a ticket done here, or a re-read) and give up after `maxWaitMs` per
 * ticket still ahead without any progress. Counting per ticket ahead, and starting over on every
 * progress, means that behind a dead ticket only the next one gives up first; the others then see
 * progress instead of all giving up together.
 *
 * A failed re-read fails every waiter of the chat at once, in ticket order, so that they go on in
 * the order they were received.
 */
export class TurnWaiters {
  private readonly lines = new Map<string, ChatLine>();

  constructor(private readonly options: TurnWaitersOptions = {}) {}

  wait(ticket: ChatTicket, maxWaitMs: number, knownServed = 0): Promise<'turn' | 'gave-up'> {
    let line = this.lines.get(ticket.chatId);
    const isNew = line === undefined;
    if (line === undefined) {
      line = { served: knownServed, waiters: [], recheck: undefined, reading: false };
      this.lines.set(ticket.chatId, line);
    }
    line.served = Math.max(line.served, knownServed);
    if (ticket.number - 1 <= line.served) {
      if (line.waiters.length === 0) this.drop(ticket.chatId);
      return Promise.resolve('turn');
    }
    const current = line;
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        ticket: ticket.number,
        maxWaitMs,
        timer: undefined,
        settle: (outcome) => (outcome instanceof Error ? reject(outcome) : resolve(outcome)),
      };
      const index = current.waiters.findIndex((other) => other.ticket > waiter.ticket);
      current.waiters.splice(index === -1 ? current.waiters.length : index, 0, waiter);
      this.arm(ticket.chatId, current, waiter);
      // Registered first, read second: a notification sent after the read is not missed.
      if (isNew) void this.recheck(ticket.chatId);
    });
  }

  /** A chat's served number, learned from anywhere; wakes the waiters it lets go. */
  learn(chatId: string, served: number): void {
    const line = this.lines.get(chatId);
    if (line === undefined || served <= line.served) return;
    line.served = served;
    for (let first = line.waiters[0]; first !== undefined && first.ticket - 1 <= served; first = line.waiters[0]) {
      line.waiters.shift();
      clearTimeout(first.timer);
      first.settle('turn');
    }
    if (line.waiters.length === 0) {
      this.drop(chatId);
      return;
    }
    for (const waiter of line.waiters) this.arm(chatId, line, waiter);
  }

  /** Reads every waited-on chat again (after a reconnect, when notifications may have been lost). */
  recheckAll(): void {
    for (const chatId of this.lines.keys()) void this.recheck(chatId);
  }

  /** Whether tickets of this chat are waited on here. */
  has(chatId: string): boolean {
    return this.lines.has(chatId);
  }

  private arm(chatId: string, line: ChatLine, waiter: Waiter): void {
    clearTimeout(waiter.timer);
    const ahead = Math.max(1, waiter.ticket - 1 - line.served);
    waiter.timer = setTimeout(
      () => {
        const index = line.waiters.indexOf(waiter);
        if (index === -1) return;
        line.waiters.splice(index, 1);
        if (line.waiters.length === 0) this.drop(chatId);
        waiter.settle('gave-up');
      },
      Math.min(ahead * waiter.maxWaitMs, MAX_TIMER_MS),
    );
    waiter.timer.unref();
  }

  private async recheck(chatId: string): Promise<void> {
    const read = this.options.read;
    const line = this.lines.get(chatId);
    if (read === undefined || line === undefined || line.reading) return;
    clearTimeout(line.recheck);
    line.reading = true;
    let served: number;
    try {
      served = await read(chatId);
    } catch (error) {
      line.reading = false;
      if (this.lines.get(chatId) !== line) return;
      this.drop(chatId);
      const failure = error instanceof Error ? error : new Error(String(error));
      for (const waiter of line.waiters.splice(0)) {
        clearTimeout(waiter.timer);
        waiter.settle(failure);
      }
      return;
    }
    line.reading = false;
    if (this.lines.get(chatId) !== line) return;
    if (served > line.served) this.learn(chatId, served);
    else if (line.waiters.length === 0) this.drop(chatId);
    if (this.lines.get(chatId) !== line) return;
    line.recheck = setTimeout(() => void this.recheck(chatId), this.options.recheckMs ?? 1000);
    line.recheck.unref();
  }

  private drop(chatId: string): void {
    const line = this.lines.get(chatId);
    if (line === undefined) return;
    clearTimeout(line.recheck);
    this.lines.delete(chatId);
  }
}
