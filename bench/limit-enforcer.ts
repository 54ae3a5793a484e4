import { type DailyResetZone, type KeyLimits, nextQuotaDayStart, quotaDay } from '../providers';
import {
  type Behaviour,
  dialectFor,
  type KeyLimitState,
  type LimitKind,
  type LimitRefusal,
  type RateLimitDialect,
  type RecordedRequest,
} from '../tests/fakes/provider-server';

/**
 * A fake provider's rate limiter: each API key gets its provider's free-tier limits (RPM, TPM,
 * RPD, TPD), enforced the way the provider does, and a request beyond a limit gets that provider's
 * own 429 (body and headers from its fake dialect, tests/fakes/provider-server/dialects/, and
 * docs/providers.md). Successful answers carry the rate-limit headers the real provider sends.
 * Time comes from `now` (the benchmark's virtual clock).
 *
 * Modelling choices (where the providers do not document the exact algorithm) are each
 * provider's dialect's (`dialect.limits`):
 * - minute windows are sliding (the last 60 s) for providers whose limits replenish continuously,
 *   and fixed (aligned to the clock minute) for those whose reset names the end of a window;
 * - some providers count input + the requested maximum output against TPM before running the
 *   request; everyone counts the actual input + output tokens once it has run.
 * Days are the router's quota days (`quotaDay`) in the provider's reset zone. A refused request
 * costs nothing; token counts are the fake's own (≈ 4 characters a token), and the answer reports
 * them as usage, so a client that reads usage sees the same numbers.
 */

export type { LimitKind, MinuteWindow } from '../tests/fakes/provider-server';

export interface EnforcedProvider {
  /** The provider's name, which is also its dialect on the fake server. */
  readonly name: string;
  readonly limits: KeyLimits;
  readonly dailyResetZone: DailyResetZone;
}

/** What the fake answers (text and output token count) to a request it admits. */
export type Answerer = (request: RecordedRequest) => { readonly text: string; readonly outputTokens: number };

export interface LimitEnforcerOptions {
  readonly providers: readonly EnforcedProvider[];
  readonly now: () => number;
  readonly answer: Answerer;
}

interface Spend {
  readonly at: number;
  readonly tokens: number;
}

interface KeyAccount {
  readonly provider: EnforcedProvider;
  readonly signals: RateLimitDialect;
  readonly apiKey: string;
  /** Requests admitted in the current minute window, oldest first. */
  spends: Spend[];
  day: string;
  requestsToday: number;
  tokensToday: number;
  /** The quota month (`2026-11`, from the quota day) and the requests admitted in it. */
  month: string;
  requestsThisMonth: number;
}

type Verdict = { readonly ok: true } | ({ readonly ok: false } & LimitRefusal);

/** A request as the limiter weighs it. */
export interface RequestWeight {
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** `max_completion_tokens` / `max_tokens` the client asked for, when it did. */
  readonly maxOutputTokens: number | undefined;
}

export interface EnforcerTotals {
  readonly upstreamRequests: number;
  readonly served: number;
  readonly refused: number;
  readonly refusedByKind: Readonly<Record<LimitKind, number>>;
  readonly servedByProvider: Readonly<Record<string, number>>;
  readonly refusedByProvider: Readonly<Record<string, number>>;
  readonly tokensServed: number;
}

const MINUTE_MS = 60_000;

export class LimitEnforcer {
  private readonly accounts = new Map<string, KeyAccount>();
  private readonly providers: ReadonlyMap<string, EnforcedProvider>;
  private upstreamRequests = 0;
  private served = 0;
  private tokensServed = 0;
  private readonly refusedByKind: Record<LimitKind, number> = { rpm: 0, tpm: 0, rpd: 0, tpd: 0, rpmo: 0 };
  private readonly servedByProvider: Record<string, number> = {};
  private readonly refusedByProvider: Record<string, number> = {};

  constructor(private readonly options: LimitEnforcerOptions) {
    this.providers = new Map(options.providers.map((provider) => [provider.name, provider]));
  }

  /** The fake server's handler: admit and answer, or refuse with the provider's own 429. */
  readonly handle = (request: RecordedRequest): Behaviour => {
    const now = this.options.now();
    const account = this.accountFor(request.dialect, request.apiKey ?? '', now);
    this.upstreamRequests += 1;
    const answer = this.options.answer(request);
    const weight: RequestWeight = {
      inputTokens: countInputTokens(request.messages),
      outputTokens: answer.outputTokens,
      maxOutputTokens: maxOutputTokensOf(request.body),
    };
    const verdict = judge(account, weight, now);
    if (!verdict.ok) {
      this.refusedByKind[verdict.kind] += 1;
      this.refusedByProvider[account.provider.name] = (this.refusedByProvider[account.provider.name] ?? 0) + 1;
      return account.signals.refusal(stateOf(account, now), verdict, request.model ?? 'model');
    }
    const tokens = weight.inputTokens + weight.outputTokens;
    account.spends.push({ at: now, tokens });
    account.requestsToday += 1;
    account.requestsThisMonth += 1;
    account.tokensToday += tokens;
    this.served += 1;
    this.tokensServed += tokens;
    this.servedByProvider[account.provider.name] = (this.servedByProvider[account.provider.name] ?? 0) + 1;
    return {
      type: 'reply',
      text: answer.text,
      usage: { inputTokens: weight.inputTokens, outputTokens: weight.outputTokens },
      headers: account.signals.successHeaders(stateOf(account, now)),
    };
  };

  /** Registers a key up front, so `keyWithRoom` knows it before its first request. */
  register(provider: string, apiKey: string): void {
    this.accountFor(provider, apiKey, this.options.now());
  }

  /**
   * A key that could take this request right now, by this limiter's own accounting, or
   * `undefined` when every key is at one of its limits.
   */
  keyWithRoom(
    messages: readonly { readonly content: string }[],
    outputTokens: number,
    maxOutputTokens: number | undefined,
  ): string | undefined {
    const now = this.options.now();
    const weight: RequestWeight = { inputTokens: countInputTokens(messages), outputTokens, maxOutputTokens };
    for (const [id, account] of this.accounts) {
      refresh(account, now);
      if (judge(account, weight, now).ok) return id;
    }
    return undefined;
  }

  totals(): EnforcerTotals {
    return {
      upstreamRequests: this.upstreamRequests,
      served: this.served,
      refused: this.upstreamRequests - this.served,
      refusedByKind: { ...this.refusedByKind },
      servedByProvider: { ...this.servedByProvider },
      refusedByProvider: { ...this.refusedByProvider },
      tokensServed: this.tokensServed,
    };
  }

  private accountFor(providerName: string, apiKey: string, now: number): KeyAccount {
    const id = `${providerName}:${apiKey}`;
    let account = this.accounts.get(id);
    if (account === undefined) {
      const provider = this.providers.get(providerName);
      if (provider === undefined) throw new Error(`limit enforcer: unknown provider ${providerName}`);
      account = {
        provider,
        signals: dialectFor(providerName).limits,
        apiKey,
        spends: [],
        day: quotaDay(now, provider.dailyResetZone),
        requestsToday: 0,
        tokensToday: 0,
        month: quotaDay(now, provider.dailyResetZone).slice(0, 7),
        requestsThisMonth: 0,
      };
      this.accounts.set(id, account);
    }
    refresh(account, now);
    return account;
  }
}

// ─── Accounting ──────────────────────────────────────────────────────────────────────────────────

/** Drops spends that left the minute window and starts a new day when the provider's day changed. */
function refresh(account: KeyAccount, now: number): void {
  const start = windowStart(account, now);
  let expired = 0;
  while (expired < account.spends.length && (account.spends[expired]?.at ?? 0) < start) expired++;
  if (expired > 0) account.spends.splice(0, expired);
  const day = quotaDay(now, account.provider.dailyResetZone);
  if (day !== account.day) {
    account.day = day;
    account.requestsToday = 0;
    account.tokensToday = 0;
    if (account.month !== day.slice(0, 7)) {
      account.month = day.slice(0, 7);
      account.requestsThisMonth = 0;
    }
  }
}

/** The first moment that still counts in the minute window (inclusive). */
function windowStart(account: KeyAccount, now: number): number {
  return account.signals.minuteWindow === 'fixed' ? Math.floor(now / MINUTE_MS) * MINUTE_MS : now - MINUTE_MS + 1;
}

/** When the current minute window will have room for `needed` more (requests or tokens). */
function minuteRoomAt(
  account: KeyAccount,
  now: number,
  used: number,
  limit: number,
  needed: number,
  weigh: (spend: Spend) => number,
): number {
  if (account.signals.minuteWindow === 'fixed') return windowStart(account, now) + MINUTE_MS;
  let remaining = used;
  for (const spend of account.spends) {
    remaining -= weigh(spend);
    if (remaining + needed <= limit) return spend.at + MINUTE_MS;
  }
  return now + MINUTE_MS;
}

function judge(account: KeyAccount, weight: RequestWeight, now: number): Verdict {
  const { limits } = account.provider;
  const tokens = weight.inputTokens + weight.outputTokens;
  // What the provider weighs before it runs the request.
  const admissionTokens =
    account.signals.countsMaxOutputUpfront && weight.maxOutputTokens !== undefined
      ? weight.inputTokens + weight.maxOutputTokens
      : tokens;
  const untilTomorrow = nextQuotaDayStart(now, account.provider.dailyResetZone) - now;
  // The month's and the day's windows: a refusal lasts at least until the provider's day turns
  // (a monthly one longer still).
  const longWindows = [
    { kind: 'rpmo', limit: limits.requestsPerMonth, used: account.requestsThisMonth, requested: 1 },
    { kind: 'rpd', limit: limits.requestsPerDay, used: account.requestsToday, requested: 1 },
    { kind: 'tpd', limit: limits.tokensPerDay, used: account.tokensToday, requested: admissionTokens },
  ] as const;
  for (const { kind, limit, used, requested } of longWindows) {
    if (limit !== undefined && used + requested > limit) {
      return { ok: false, kind, limit, used, requested, retryAfterMs: untilTomorrow };
    }
  }
  const requestsThisMinute = account.spends.length;
  if (limits.requestsPerMinute !== undefined && requestsThisMinute + 1 > limits.requestsPerMinute) {
    const at = minuteRoomAt(account, now, requestsThisMinute, limits.requestsPerMinute, 1, () => 1);
    return {
      ok: false,
      kind: 'rpm',
      limit: limits.requestsPerMinute,
      used: requestsThisMinute,
      requested: 1,
      retryAfterMs: at - now,
    };
  }
  const tokensUsed = tokensThisMinute(account);
  if (limits.tokensPerMinute !== undefined && tokensUsed + admissionTokens > limits.tokensPerMinute) {
    const at = minuteRoomAt(account, now, tokensUsed, limits.tokensPerMinute, admissionTokens, (spend) => spend.tokens);
    return {
      ok: false,
      kind: 'tpm',
      limit: limits.tokensPerMinute,
      used: tokensUsed,
      requested: admissionTokens,
      retryAfterMs: at - now,
    };
  }
  return { ok: true };
}

/** The fake's token count: about four characters a token, plus a few for each message's framing. */
export function countInputTokens(messages: readonly { readonly content: string }[]): number {
  return 3 + messages.reduce((sum, message) => sum + 4 + Math.ceil(message.content.length / 4), 0);
}

function maxOutputTokensOf(body: unknown): number | undefined {
  const record = (body ?? {}) as {
    max_completion_tokens?: unknown;
    max_tokens?: unknown;
    generationConfig?: { maxOutputTokens?: unknown };
  };
  const value = record.max_completion_tokens ?? record.max_tokens ?? record.generationConfig?.maxOutputTokens;
  return typeof value === 'number' ? value : undefined;
}

// ─── What a provider's dialect is told ───────────────────────────────────────────────────────────

function tokensThisMinute(account: KeyAccount): number {
  return account.spends.reduce((sum, spend) => sum + spend.tokens, 0);
}

/** When every spend now in the minute window has left it (a full window again). */
function windowEmptiesIn(account: KeyAccount, now: number): number {
  if (account.signals.minuteWindow === 'fixed') return windowStart(account, now) + MINUTE_MS - now;
  const newest = account.spends.at(-1);
  return newest === undefined ? 0 : newest.at + MINUTE_MS - now;
}

/** The key's state as its provider's dialect reads it to write headers and refusals. */
function stateOf(account: KeyAccount, now: number): KeyLimitState {
  return {
    limits: account.provider.limits,
    now,
    requestsToday: account.requestsToday,
    tokensToday: account.tokensToday,
    requestsThisMinute: account.spends.length,
    tokensThisMinute: tokensThisMinute(account),
    dayEndsAt: nextQuotaDayStart(now, account.provider.dailyResetZone),
    minuteWindowResetAt: now + windowEmptiesIn(account, now),
  };
}
