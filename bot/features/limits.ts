import { limit } from '@grammyjs/ratelimiter';
import { Composer, type MiddlewareFn } from 'grammy';
import type { CounterStore } from '../../storage';
import { type BotContext, isAdmin } from '../context';
import { nextQuotaDayStart, quotaDay } from '../../providers';
import { audioCounterKey, dailyCounterKey, mediaCounterKey, minuteCounterKey } from '../services/usage';

/**
 * Per-user limits on what costs a provider call (chat messages and /translate), never on /help or
 * /start. Admins are exempt. A user over a limit is told once per window when to come back, and
 * the message costs nothing. Media have daily budgets of their own besides (`reserveMedia`).
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

/**
 * A media request's hold on the user's daily media budgets (`USER_DAILY_MEDIA_LIMIT`,
 * `USER_DAILY_AUDIO_SECONDS`): reserved before anything is sent, given back when nothing was.
 */
export interface MediaReservation {
  /**
   * Reserves `seconds` of audio to transcribe as well; `false` once the user was told the recording
   * is longer than what is left today (the whole reservation is then given back).
   */
  audio(seconds: number): Promise<boolean>;
  /** Gives back all that was reserved: nothing was sent to a provider (a file not fetched, refused). */
  release(): Promise<void>;
}

const UNLIMITED: MediaReservation = { audio: async () => true, release: async () => undefined };

/**
 * Reserves one media request (a photo, a voice note, a PDF, /translate on media) against the
 * user's daily budget, and with `audioSeconds` that many seconds of listening, or tells the user
 * in their language that today's budget is spent and resolves `undefined`. Admins are exempt. A
 * refusal costs nothing: what a refused request had reserved is given back at once. Counted in
 * the counter store (Redis, shared by every process, or memory), per UTC day.
 */
export async function reserveMedia(
  ctx: BotContext,
  cost: { readonly audioSeconds?: number } = {},
): Promise<MediaReservation | undefined> {
  if (ctx.from === undefined || isAdmin(ctx)) return UNLIMITED;
  const { config, services } = ctx.deps;
  const counters = services.stores.counters;
  const user = String(ctx.from.id);
  const now = ctx.deps.now();
  const day = quotaDay(now, 'UTC');
  const windowMs = nextQuotaDayStart(now, 'UTC') - now;
  const hours = Math.max(1, Math.ceil(windowMs / 3_600_000));
  const held: { key: string; amount: number }[] = [];
  const release = async (): Promise<void> => {
    const giving = held.splice(0);
    await Promise.all(giving.map(({ key, amount }) => counters.release(key, amount, ctx.deps.now())));
  };

  const reserveAudio = async (seconds: number): Promise<boolean> => {
    const limit = config.userDailyAudioSeconds;
    const amount = Math.max(1, Math.ceil(seconds));
    if (limit === 0) return true;
    const key = audioCounterKey(day, user);
    const { reserved, total } = await counters.reserve(key, amount, limit, windowMs, now);
    if (reserved) {
      held.push({ key, amount });
      return true;
    }
    await release();
    ctx.log.info({ seconds: amount, used: total, limit }, 'user over the daily audio budget');
    await ctx.reply(ctx.t.media.audioBudget(amount, Math.max(0, limit - total), limit, hours));
    return false;
  };

  if (config.userDailyMediaLimit > 0) {
    const key = mediaCounterKey(day, user);
    const { reserved, total } = await counters.reserve(key, 1, config.userDailyMediaLimit, windowMs, now);
    if (!reserved) {
      ctx.log.info({ used: total, limit: config.userDailyMediaLimit }, 'user over the daily media budget');
      await ctx.reply(ctx.t.media.mediaBudget(config.userDailyMediaLimit, hours));
      return undefined;
    }
    held.push({ key, amount: 1 });
  }
  if (cost.audioSeconds !== undefined && !(await reserveAudio(cost.audioSeconds))) return undefined;
  return { audio: reserveAudio, release };
}
