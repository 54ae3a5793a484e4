import { limit } from '@grammyjs/ratelimiter';
import { Composer, type MiddlewareFn } from 'grammy';
import type { CounterStore } from '../../storage';
import { type BotContext, isAdmin } from '../context';
import { nextQuotaDayStart, quotaDay } from '../../providers';
import { dailyCounterKey, minuteCounterKey } from '../services/usage';

/**
 * Per-user limits on what costs a provider call (chat messages and /translate), never on /help or
 * /start. Admins are exempt. A user over a limit is told once per window when to come back, and
 * the message costs nothing.
 */

const MINUTE_MS = 60_000;

/**
 * The storage client @grammyjs/ratelimiter calls (`incr`, then `pexpire` when the count is 1),
 * backed by our counter store, whose increment sets the expiry in the same atomic step — so a
 * crash between the two calls can never leave a counter that never expires. It also remembers
 * when each window ends, for the "come back in N s" notice.
 */
class LimiterStorage {
  private readonly resets = new Map<string, number>();

  constructor(
    private readonly counters: CounterStore,
    private readonly windowMs: number,
    private readonly now: () => number,
  ) {}

  async incr(key: string): Promise<number> {
    const { count, resetAt } = await this.counters.increment(key, this.windowMs, this.now());
    if (count > 1) this.resets.set(key, resetAt);
    else this.resets.delete(key);
    return count;
  }

  /** The expiry is already set by `incr`. */
  async pexpire(): Promise<number> {
    return 1;
  }

  /** When the window of `key` ends (and forgets it: it is asked once per window). */
  takeResetAt(key: string): number | undefined {
    const resetAt = this.resets.get(key);
    this.resets.delete(key);
    return resetAt;
  }
}

/** The rate limiter's keys: `rate:<user>`, as `minuteCounterKey` names them for /usage. */
const KEY_PREFIX = minuteCounterKey('');

/** The middleware that stands before every provider-costing handler. */
export interface CostGateOptions {
  readonly perMinute: number;
  readonly perDay: number;
  readonly now: () => number;
  /** Told each time a message is refused (metrics). */
  readonly onLimited?: (limit: 'minute' | 'day') => void;
}

export function costGate(counters: CounterStore, options: CostGateOptions): MiddlewareFn<BotContext> {
  const gate = new Composer<BotContext>();
  const userKey = (ctx: BotContext): string | undefined =>
    ctx.from === undefined || isAdmin(ctx) ? undefined : String(ctx.from.id);

  if (options.perMinute > 0) {
    const storage = new LimiterStorage(counters, MINUTE_MS, options.now);
    gate.use(
      limit<BotContext, LimiterStorage>({
        timeFrame: MINUTE_MS,
        limit: options.perMinute,
        storageClient: storage,
        keyPrefix: KEY_PREFIX,
        keyGenerator: userKey,
        onLimitExceeded: async (ctx) => {
          const key = userKey(ctx);
          const resetAt = key === undefined ? undefined : storage.takeResetAt(`${KEY_PREFIX}${key}`);
          const seconds = Math.max(1, Math.ceil(((resetAt ?? options.now() + MINUTE_MS) - options.now()) / 1000));
          options.onLimited?.('minute');
          ctx.log.info({ seconds }, 'user over the per-minute limit');
          await ctx.reply(ctx.t.rateLimited(seconds));
        },
      }),
    );
  }

  gate.use(async (ctx, next) => {
    const key = userKey(ctx);
    if (key !== undefined && options.perDay > 0) {
      const now = options.now();
      const { count } = await counters.increment(
        dailyCounterKey(quotaDay(now, 'UTC'), key),
        nextQuotaDayStart(now, 'UTC') - now,
        now,
      );
      if (count > options.perDay) {
        options.onLimited?.('day');
        if (count === options.perDay + 1) {
          const hours = Math.max(1, Math.ceil((nextQuotaDayStart(now, 'UTC') - now) / 3_600_000));
          ctx.log.info({ count }, 'user over the daily limit');
          await ctx.reply(ctx.t.dailyLimit(hours));
        }
        return;
      }
    }
    if (ctx.from !== undefined) {
      const now = options.now();
      ctx.deps.services.stores.stats
        .recordUserRequest(String(ctx.from.id), quotaDay(now, 'UTC'))
        .catch((error: unknown) => ctx.log.debug({ err: error }, 'user stats not recorded'));
    }
    await next();
  });
  return gate.middleware();
}
