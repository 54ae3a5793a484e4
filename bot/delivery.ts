import { GrammyError } from 'grammy';
import type { Logger } from './logger';

/**
 * Answers held back by a long Telegram flood wait. A 429 whose `retry_after` is longer than the
 * retries in front of every call wait out (30 s, `bot/create-bot.ts`) would otherwise drop an
 * answer already stored in the conversation: the user would never see it, and the model would
 * think they had. Such an answer is handed here and sent when the wait ends, without holding up
 * the update (nor, in long polling, the updates behind it).
 *
 * Bounded: a wait longer than `maxWaitMs` is not waited out, at most `maxPending` answers wait at
 * once, and each is sent at most `maxAttempts` times (a new flood wait starts a new wait). One
 * chat's answers go out in order: an answer to a chat that already has one waiting goes behind it.
 * What waits lives in this process only: a restart before the wait ends loses it.
 */
export interface DelayedDeliveryOptions {
  /** Longest flood wait waited out (default 15 minutes). */
  readonly maxWaitMs?: number;
  /** Answers waiting at once (default 1,000). */
  readonly maxPending?: number;
  /** Tries per answer after a wait (default 3). */
  readonly maxAttempts?: number;
  /** How to wait (tests pass a fake clock's). */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** The wait a Telegram 429 asks for, in ms; undefined for any other error. */
export function floodWaitMs(error: unknown): number | undefined {
  if (!(error instanceof GrammyError) || error.error_code !== 429) return undefined;
  const seconds = error.parameters.retry_after;
  return typeof seconds === 'number' && seconds > 0 ? seconds * 1000 : undefined;
}

export class DelayedDeliveries {
  private readonly maxWaitMs: number;
  private readonly maxPending: number;
  private readonly maxAttempts: number;
  private readonly sleep: (ms: number) => Promise<void>;
  /** Per chat: the end of its line of waiting answers, and how many are in it. */
  private readonly chats = new Map<number, { tail: Promise<void>; waiting: number }>();
  private waiting = 0;

  constructor(
    private readonly logger: Logger,
    options: DelayedDeliveryOptions = {},
  ) {
    this.maxWaitMs = options.maxWaitMs ?? 15 * 60_000;
    this.maxPending = options.maxPending ?? 1000;
    this.maxAttempts = options.maxAttempts ?? 3;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** Answers waiting now, over all chats. */
  get pending(): number {
    return this.waiting;
  }

  /** Whether an answer to this chat is waiting: a later one must go behind it. */
  isWaiting(chatId: number): boolean {
    return this.chats.has(chatId);
  }

  /**
   * Runs `send` after `waitMs`, behind the answers already waiting for this chat, and again after
   * each flood wait it meets (`send` must carry on where it stopped). Returns false, keeping
   * nothing, when the wait is too long or too many answers wait already: the caller then fails
   * as it would have.
   */
  schedule(chatId: number, waitMs: number, send: () => Promise<void>): boolean {
    if (waitMs > this.maxWaitMs || this.waiting >= this.maxPending) return false;
    const chat = this.chats.get(chatId) ?? { tail: Promise.resolve(), waiting: 0 };
    chat.waiting++;
    this.waiting++;
    this.chats.set(chatId, chat);
    chat.tail = chat.tail
      .then(() => this.deliver(chatId, waitMs, send))
      .finally(() => {
        this.waiting--;
        if (--chat.waiting === 0) this.chats.delete(chatId);
      });
    return true;
  }

  private async deliver(chatId: number, firstWaitMs: number, send: () => Promise<void>): Promise<void> {
    let waitMs = firstWaitMs;
    for (let attempt = 1; ; attempt++) {
      if (waitMs > 0) await this.sleep(waitMs);
      try {
        await send();
        this.logger.info({ chat: chatId, attempt }, 'answer delivered after a flood wait');
        return;
      } catch (error) {
        const next = floodWaitMs(error);
        if (next === undefined || next > this.maxWaitMs || attempt >= this.maxAttempts) {
          this.logger.error({ chat: chatId, attempt, err: error }, 'answer held back by a flood wait not delivered');
          return;
        }
        waitMs = next;
      }
    }
  }
}
