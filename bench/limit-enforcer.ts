import type { DailyResetZone, KeyLimits } from '../providers/types';
import type { Behaviour, RecordedRequest } from '../tests/fakes/provider-server';
import { cerebrasErrors } from '../tests/fakes/provider-server/errors-cerebras';
import { cohereErrors, cohereTrialHeaders } from '../tests/fakes/provider-server/errors-cohere';
import { openRouterErrors, openRouterRateLimitHeaders } from '../tests/fakes/provider-server/errors-openrouter';

/**
 * A fake provider's rate limiter: each API key gets its provider's free-tier limits (RPM, TPM,
 * RPD, TPD), enforced the way the provider does, and a request beyond a limit gets that provider's
 * own 429 (body and headers as in tests/fakes/provider-server/errors*.ts and PROVIDERS.md).
 * Successful answers carry the rate-limit headers the real provider sends. Time comes from `now`
 * (the benchmark's virtual clock).
 *
 * Modelling choices (where the providers do not document the exact algorithm):
 * - Minute windows are sliding (the last 60 s) for Groq, Cerebras and Gemini, whose limits
 *   replenish continuously, and fixed (aligned to the clock minute) for OpenRouter, whose
 *   `X-RateLimit-Reset` names the end of a window, and Cohere.
 * - Days follow the provider's reset zone (Gemini: midnight Pacific; the others: UTC).
 * - Cerebras counts input + `max_completion_tokens` against TPM before running the request
 *   (PROVIDERS.md); everyone counts the actual input + output tokens once it has run.
 * - A refused request costs nothing; token counts are the fake's own (≈ 4 characters a token),
 *   and the answer reports them as usage, so a client that reads usage sees the same numbers.
 */

export type MinuteWindow = 'sliding' | 'fixed';
export type LimitKind = 'rpm' | 'tpm' | 'rpd' | 'tpd';

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
  readonly signals: ProviderSignals;
  readonly apiKey: string;
  /** Requests admitted in the current minute window, oldest first. */
  spends: Spend[];
  day: string;
  requestsToday: number;
  tokensToday: number;
}

type Verdict =
  | { readonly ok: true }
  | {
      readonly ok: false;
      readonly kind: LimitKind;
      readonly limit: number;
      readonly used: number;
      /** What this request asked for in the refused window (1 request, or its tokens). */
      readonly requested: number;
      readonly retryAfterMs: number;
    };

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
  private readonly refusedByKind: Record<LimitKind, number> = { rpm: 0, tpm: 0, rpd: 0, tpd: 0 };
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
      return account.signals.refusal(account, verdict, now, request.model ?? 'model');
    }
    const tokens = weight.inputTokens + weight.outputTokens;
    account.spends.push({ at: now, tokens });
    account.requestsToday += 1;
    account.tokensToday += tokens;
    this.served += 1;
    this.tokensServed += tokens;
    this.servedByProvider[account.provider.name] = (this.servedByProvider[account.provider.name] ?? 0) + 1;
    return {
      type: 'reply',
      text: answer.text,
      usage: { inputTokens: weight.inputTokens, outputTokens: weight.outputTokens },
      headers: account.signals.successHeaders(account, now),
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
      const signals = SIGNALS[providerName];
      if (provider === undefined || signals === undefined)
        throw new Error(`limit enforcer: unknown provider ${providerName}`);
      account = {
        provider,
        signals,
        apiKey,
        spends: [],
        day: dayOf(now, provider.dailyResetZone),
        requestsToday: 0,
        tokensToday: 0,
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
  const day = dayOf(now, account.provider.dailyResetZone);
  if (day !== account.day) {
    account.day = day;
    account.requestsToday = 0;
    account.tokensToday = 0;
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
  const untilTomorrow = nextDayStart(now, account.provider.dailyResetZone) - now;
  if (limits.requestsPerDay !== undefined && account.requestsToday + 1 > limits.requestsPerDay) {
    return {
      ok: false,
      kind: 'rpd',
      limit: limits.requestsPerDay,
      used: account.requestsToday,
      requested: 1,
      retryAfterMs: untilTomorrow,
    };
  }
  if (limits.tokensPerDay !== undefined && account.tokensToday + admissionTokens > limits.tokensPerDay) {
    return {
      ok: false,
      kind: 'tpd',
      limit: limits.tokensPerDay,
      used: account.tokensToday,
      requested: admissionTokens,
      retryAfterMs: untilTomorrow,
    };
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

// ─── Days in a provider's reset zone ────────────────────────────────────────────────────────────

const wallClocks = new Map<DailyResetZone, Intl.DateTimeFormat>();

/** The wall-clock date and time of `now` in `zone`. */
function wallClock(now: number, zone: DailyResetZone): { date: string; msIntoDay: number } {
  let format = wallClocks.get(zone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    wallClocks.set(zone, format);
  }
  const parts = Object.fromEntries(format.formatToParts(now).map((part) => [part.type, part.value]));
  const msIntoDay =
    ((Number(parts.hour) * 60 + Number(parts.minute)) * 60 + Number(parts.second)) * 1000 + (now % 1000);
  return { date: `${parts.year}-${parts.month}-${parts.day}`, msIntoDay };
}

/** The quota day each zone is in, kept until it ends (formatting dates is slow on a hot path). */
const currentDays = new Map<DailyResetZone, { readonly date: string; readonly start: number; readonly end: number }>();

function quotaDayAt(
  now: number,
  zone: DailyResetZone,
): { readonly date: string; readonly start: number; readonly end: number } {
  const cached = currentDays.get(zone);
  if (cached !== undefined && cached.start <= now && now < cached.end) return cached;
  const { date, msIntoDay } = wallClock(now, zone);
  // Days without a daylight-saving change are 24 h long; the benchmark's day has none.
  const day = { date, start: now - msIntoDay, end: now - msIntoDay + 86_400_000 };
  currentDays.set(zone, day);
  return day;
}

export function dayOf(now: number, zone: DailyResetZone): string {
  return quotaDayAt(now, zone).date;
}

/** The next local midnight in `zone`. */
export function nextDayStart(now: number, zone: DailyResetZone): number {
  return quotaDayAt(now, zone).end;
}

// ─── What each provider says ─────────────────────────────────────────────────────────────────────

interface ProviderSignals {
  readonly minuteWindow: MinuteWindow;
  readonly countsMaxOutputUpfront: boolean;
  successHeaders(account: KeyAccount, now: number): Record<string, string> | undefined;
  refusal(account: KeyAccount, verdict: Extract<Verdict, { ok: false }>, now: number, model: string): Behaviour;
}

type Refusal = Extract<Verdict, { ok: false }>;

function tokensThisMinute(account: KeyAccount): number {
  return account.spends.reduce((sum, spend) => sum + spend.tokens, 0);
}

/** One window's limit / remaining / reset headers; none for a window the key has no limit on. */
function windowHeaders(
  limit: number | undefined,
  used: number,
  names: { readonly limit: string; readonly remaining: string; readonly reset: readonly [string, string] },
): Record<string, string> {
  if (limit === undefined) return {};
  return {
    [names.limit]: String(limit),
    [names.remaining]: String(Math.max(0, limit - used)),
    [names.reset[0]]: names.reset[1],
  };
}

/** When every spend now in the minute window has left it (a full window again). */
function windowEmptiesIn(account: KeyAccount, now: number): number {
  if (account.signals.minuteWindow === 'fixed') return windowStart(account, now) + MINUTE_MS - now;
  const newest = account.spends.at(-1);
  return newest === undefined ? 0 : newest.at + MINUTE_MS - now;
}

/** Go's `time.Duration` text, as Groq writes it: `850ms`, `7.66s`, `2m59.56s`, `7h3m2.5s`. */
export function goDuration(ms: number): string {
  const rounded = Math.max(0, Math.round(ms));
  if (rounded < 1000) return `${rounded}ms`;
  const hours = Math.floor(rounded / 3_600_000);
  const minutes = Math.floor((rounded % 3_600_000) / 60_000);
  const seconds = (rounded % 60_000) / 1000;
  return `${hours > 0 ? `${hours}h` : ''}${hours > 0 || minutes > 0 ? `${minutes}m` : ''}${seconds}s`;
}

const seconds = (ms: number): string => String(Math.max(0, ms) / 1000);
const retryAfterSeconds = (ms: number): string => String(Math.max(1, Math.ceil(ms / 1000)));

// Groq: requests per DAY and tokens per MINUTE in every response's headers, Go durations.
function groqHeaders(account: KeyAccount, now: number): Record<string, string> {
  const { limits, dailyResetZone } = account.provider;
  return {
    ...windowHeaders(limits.requestsPerDay, account.requestsToday, {
      limit: 'x-ratelimit-limit-requests',
      remaining: 'x-ratelimit-remaining-requests',
      reset: ['x-ratelimit-reset-requests', goDuration(nextDayStart(now, dailyResetZone) - now)],
    }),
    ...windowHeaders(limits.tokensPerMinute, tokensThisMinute(account), {
      limit: 'x-ratelimit-limit-tokens',
      remaining: 'x-ratelimit-remaining-tokens',
      reset: ['x-ratelimit-reset-tokens', goDuration(windowEmptiesIn(account, now))],
    }),
  };
}

const GROQ_WINDOWS: Record<LimitKind, { type: string; words: string }> = {
  rpm: { type: 'requests', words: 'requests per minute (RPM)' },
  rpd: { type: 'requests', words: 'requests per day (RPD)' },
  tpm: { type: 'tokens', words: 'tokens per minute (TPM)' },
  tpd: { type: 'tokens', words: 'tokens per day (TPD)' },
};

const groqSignals: ProviderSignals = {
  minuteWindow: 'sliding',
  countsMaxOutputUpfront: false,
  successHeaders: groqHeaders,
  refusal: (account, verdict, now, model) => {
    const window = GROQ_WINDOWS[verdict.kind];
    return {
      type: 'error',
      status: 429,
      headers: { 'retry-after': retryAfterSeconds(verdict.retryAfterMs), ...groqHeaders(account, now) },
      body: {
        error: {
          message: `Rate limit reached for model \`${model}\` in organization \`org_fake\` service tier \`on_demand\` on ${window.words}: Limit ${verdict.limit}, Used ${verdict.used}, Requested ${verdict.requested}. Please try again in ${goDuration(verdict.retryAfterMs)}. Need more tokens? Upgrade to Dev Tier today at https://console.groq.com/settings/billing`,
          type: window.type,
          code: 'rate_limit_exceeded',
        },
      },
    };
  },
};

// Cerebras: the documented day-request and minute-token windows, resets in float seconds.
function cerebrasHeaders(account: KeyAccount, now: number): Record<string, string> {
  const { limits, dailyResetZone } = account.provider;
  return {
    ...windowHeaders(limits.requestsPerDay, account.requestsToday, {
      limit: 'x-ratelimit-limit-requests-day',
      remaining: 'x-ratelimit-remaining-requests-day',
      reset: ['x-ratelimit-reset-requests-day', seconds(nextDayStart(now, dailyResetZone) - now)],
    }),
    ...windowHeaders(limits.tokensPerMinute, tokensThisMinute(account), {
      limit: 'x-ratelimit-limit-tokens-minute',
      remaining: 'x-ratelimit-remaining-tokens-minute',
      reset: ['x-ratelimit-reset-tokens-minute', seconds(windowEmptiesIn(account, now))],
    }),
  };
}

const CEREBRAS_REFUSALS: Record<LimitKind, () => Extract<Behaviour, { type: 'error' }>> = {
  rpm: () => cerebrasErrors.requestsPerMinute(),
  tpm: () => cerebrasErrors.tokensPerMinute(),
  rpd: () => cerebrasErrors.requestsPerDay(),
  tpd: () => cerebrasErrors.tokensPerDay(),
};

const cerebrasSignals: ProviderSignals = {
  minuteWindow: 'sliding',
  countsMaxOutputUpfront: true,
  successHeaders: cerebrasHeaders,
  // The fixtures' bodies, with headers that tell this key's real state.
  refusal: (account, verdict, now) => ({
    ...CEREBRAS_REFUSALS[verdict.kind](),
    headers: cerebrasHeaders(account, now),
  }),
};

// Gemini: no headers at all; a 429 names the quota in google.rpc details and says when to retry.
const GEMINI_QUOTAS: Record<LimitKind, { quotaId: string; metric: string }> = {
  rpm: {
    quotaId: 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier',
    metric: 'generate_content_free_tier_requests',
  },
  rpd: { quotaId: 'GenerateRequestsPerDayPerProjectPerModel-FreeTier', metric: 'generate_content_free_tier_requests' },
  tpm: {
    quotaId: 'GenerateContentInputTokensPerModelPerMinute-FreeTier',
    metric: 'generate_content_free_tier_input_token_count',
  },
  tpd: {
    quotaId: 'GenerateContentInputTokensPerModelPerDay-FreeTier',
    metric: 'generate_content_free_tier_input_token_count',
  },
};

const geminiSignals: ProviderSignals = {
  minuteWindow: 'sliding',
  countsMaxOutputUpfront: false,
  successHeaders: () => undefined,
  refusal: (_account, verdict, _now, model) => {
    const quota = GEMINI_QUOTAS[verdict.kind];
    // Per-day refusals still carry a short RetryInfo; only the quota id says the day is over.
    const delayMs = verdict.kind === 'rpd' || verdict.kind === 'tpd' ? 21_118 : verdict.retryAfterMs;
    const service = 'generativelanguage.googleapis.com';
    return {
      type: 'error',
      status: 429,
      body: {
        error: {
          code: 429,
          status: 'RESOURCE_EXHAUSTED',
          message:
            'You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. To monitor your current usage, head to: https://ai.dev/usage?tab=rate-limit. \n' +
            `* Quota exceeded for metric: ${service}/${quota.metric}, limit: ${verdict.limit}, model: ${model}\n` +
            `Please retry in ${(delayMs / 1000).toFixed(6)}s.`,
          details: [
            {
              '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
              violations: [
                {
                  quotaMetric: `${service}/${quota.metric}`,
                  quotaId: quota.quotaId,
                  quotaDimensions: { location: 'global', model },
                  quotaValue: String(verdict.limit),
                },
              ],
            },
            {
              '@type': 'type.googleapis.com/google.rpc.Help',
              links: [
                {
                  description: 'Learn more about Gemini API quotas',
                  url: 'https://ai.google.dev/gemini-api/docs/rate-limits',
                },
              ],
            },
            { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${Math.ceil(delayMs / 1000)}s` },
          ],
        },
      },
    };
  },
};

// OpenRouter: one request window in the headers, reset as epoch milliseconds.
const openRouterSignals: ProviderSignals = {
  minuteWindow: 'fixed',
  countsMaxOutputUpfront: false,
  successHeaders: (account, now) => {
    const limit = account.provider.limits.requestsPerMinute;
    if (limit === undefined) return undefined;
    return openRouterRateLimitHeaders({
      limit,
      remaining: Math.max(0, limit - account.spends.length),
      resetAt: windowStart(account, now) + MINUTE_MS,
    });
  },
  refusal: (account, verdict, now) =>
    verdict.kind === 'rpd' || verdict.kind === 'tpd'
      ? openRouterErrors.freeModelsPerDay(nextDayStart(now, account.provider.dailyResetZone))
      : openRouterErrors.freeModelsPerMinute(windowStart(account, now) + MINUTE_MS),
};

// Cohere: trial headers on answers only; 429s in words, without a retry-after.
const cohereSignals: ProviderSignals = {
  minuteWindow: 'fixed',
  countsMaxOutputUpfront: false,
  successHeaders: (account) =>
    cohereTrialHeaders({
      remaining: Math.max(0, (account.provider.limits.requestsPerMinute ?? 0) - account.spends.length),
    }),
  // The descriptor spreads the monthly trial cap over days; the daily refusal is the monthly one's words.
  refusal: (_account, verdict: Refusal) =>
    verdict.kind === 'rpd' || verdict.kind === 'tpd' ? cohereErrors.trialMonthly() : cohereErrors.perMinute(),
};

const SIGNALS: Readonly<Record<string, ProviderSignals>> = {
  groq: groqSignals,
  cerebras: cerebrasSignals,
  gemini: geminiSignals,
  openrouter: openRouterSignals,
  cohere: cohereSignals,
};
