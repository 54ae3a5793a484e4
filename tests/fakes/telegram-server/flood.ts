import { type TelegramFailure, telegramErrors } from './errors';

export interface RateWindow {
  /** Accepted calls allowed in any window of `windowMs`; the next one gets a 429. */
  readonly limit: number;
  readonly windowMs: number;
}

/**
 * Automatic flood control, off until a test turns it on. Telegram's published guidance is about one
 * message per second per chat, 20 per minute per group and 30 per second overall; tests pick their
 * own numbers to keep runs short.
 */
export interface FloodControlOptions {
  /** Per chat (private or group). */
  readonly perChat?: RateWindow;
  /** Per group or supergroup chat (negative ids), on top of `perChat`. */
  readonly perGroup?: RateWindow;
  /** Across all chats. */
  readonly global?: RateWindow;
  /** Methods that count; by default the ones that put a message in a chat, plus editMessageText. */
  readonly methods?: readonly string[];
  /** A fixed `retry_after`; by default the seconds until the window frees a slot (at least 1). */
  readonly retryAfterSeconds?: number;
}

export const DEFAULT_FLOOD_METHODS: readonly string[] = [
  'sendMessage',
  'editMessageText',
  'sendPhoto',
  'sendDocument',
  'sendSticker',
  'sendVoice',
];

/** Sliding-window counters of accepted calls, keyed by chat and globally; rejected calls do not count. */
export class FloodControl {
  private readonly accepted = new Map<string, number[]>();
  private readonly methods: ReadonlySet<string>;

  constructor(
    private readonly options: FloodControlOptions,
    private readonly now: () => number,
  ) {
    this.methods = new Set(options.methods ?? DEFAULT_FLOOD_METHODS);
  }

  /** The 429 this call gets, or undefined if it may go ahead. */
  check(method: string, chatId: number | undefined): TelegramFailure | undefined {
    if (!this.methods.has(method)) return undefined;
    const waits = this.windows(chatId).map(([key, window]) => this.waitMs(key, window));
    const waitMs = Math.max(0, ...waits);
    if (waitMs === 0) return undefined;
    return telegramErrors.tooManyRequests(this.options.retryAfterSeconds ?? Math.max(1, Math.ceil(waitMs / 1000)));
  }

  /** Counts a call that was performed. */
  record(method: string, chatId: number | undefined): void {
    if (!this.methods.has(method)) return;
    const time = this.now();
    for (const [key] of this.windows(chatId)) {
      const times = this.accepted.get(key) ?? [];
      times.push(time);
      this.accepted.set(key, times);
    }
  }

  private windows(chatId: number | undefined): [string, RateWindow][] {
    const windows: [string, RateWindow][] = [];
    if (this.options.global) windows.push(['global', this.options.global]);
    if (chatId !== undefined && this.options.perChat) windows.push([`chat:${chatId}`, this.options.perChat]);
    if (chatId !== undefined && chatId < 0 && this.options.perGroup) {
      windows.push([`group:${chatId}`, this.options.perGroup]);
    }
    return windows;
  }

  /** 0 when the window has room; otherwise how long until its oldest call leaves it. */
  private waitMs(key: string, window: RateWindow): number {
    const now = this.now();
    const times = (this.accepted.get(key) ?? []).filter((time) => time > now - window.windowMs);
    this.accepted.set(key, times);
    if (times.length < window.limit) return 0;
    const oldest = times[times.length - window.limit] ?? now;
    return Math.max(1, oldest + window.windowMs - now);
  }
}
