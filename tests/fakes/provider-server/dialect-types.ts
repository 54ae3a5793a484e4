import type { KeyLimits } from '../../../providers/types';
import type { Behaviour, WireFormat } from './types';

/**
 * A provider's dialect: how the fake server speaks to its adapter (the wire format and where it is
 * mounted), and that provider's own words for each kind of failure and for its rate limits. Shared
 * tests, fakes and benchmarks get provider-specific behaviour only through `dialectFor(name)`, so
 * none of them names a provider.
 *
 * A provider's dialect is the module `dialects/<name>.ts` next to this file (found by the name in
 * the registry, exporting `dialect`); a provider without one gets the generic dialect of the wire
 * format its descriptor names (`descriptor.wireFormat`), if the fake has one.
 */
export interface ProviderDialect {
  /** The fake's wire format for this provider, mounted under `mount` (the provider's name). */
  format(mount: string): WireFormat;
  readonly errors: DialectErrors;
  readonly limits: RateLimitDialect;
}

/**
 * The provider's own response (status, body, headers) for each kind of failure of the router's
 * taxonomy. The optional ones are other ways the provider has of saying the same thing.
 */
export interface DialectErrors {
  /** auth: a key the provider does not know. */
  invalidKey(): Behaviour;
  /** auth: a 403 refusing the key, where the provider has one that means that. */
  forbidden?(): Behaviour;
  /** auth: a suspended key, where the provider's refusal quotes the key itself (adapters must redact it). */
  keySuspended?(apiKey: string): Behaviour;
  /** rate_limited: a per-minute limit reached; the provider says to come back in `retryAfterSeconds`. */
  rateLimited(retryAfterSeconds: number): Behaviour;
  /** quota_exhausted: the key's daily (or monthly) quota is used up. */
  quotaExhausted(): Behaviour;
  /** transient: a 500. */
  serverError(): Behaviour;
  /** transient: a 503 (or the provider's "overloaded"). */
  unavailable(): Behaviour;
  /** context_too_long: the conversation exceeds the model's context. */
  contextTooLong(): Behaviour;
  /** context_too_long, said another way (e.g. a 413), where the provider has one. */
  requestTooLarge?(): Behaviour;
  /** bad_request: the configured model does not exist. */
  modelNotFound(): Behaviour;
}

/** Requests or tokens per minute or day, or requests per month (`rpmo`, a trial key's monthly cap). */
export type LimitKind = 'rpm' | 'tpm' | 'rpd' | 'tpd' | 'rpmo';

/** Whether a minute window counts the last 60 s, or the clock minute. */
export type MinuteWindow = 'sliding' | 'fixed';

/** What a fake's rate limiter knows about one key when it answers. */
export interface KeyLimitState {
  readonly limits: KeyLimits;
  readonly now: number;
  readonly requestsToday: number;
  readonly tokensToday: number;
  readonly requestsThisMinute: number;
  readonly tokensThisMinute: number;
  /** When the provider's quota day turns (the next midnight in its reset zone). */
  readonly dayEndsAt: number;
  /**
   * When the minute window is whole again: a fixed window's end, or, for a sliding one, when the
   * newest request in it leaves it (`now` when it is empty).
   */
  readonly minuteWindowResetAt: number;
}

/** A request refused by a limit. */
export interface LimitRefusal {
  readonly kind: LimitKind;
  readonly limit: number;
  readonly used: number;
  /** What this request asked for in the refused window (1 request, or its tokens). */
  readonly requested: number;
  readonly retryAfterMs: number;
}

/** How a provider enforces and announces its limits, as far as the fake's limiter models it. */
export interface RateLimitDialect {
  readonly minuteWindow: MinuteWindow;
  /** Whether the provider weighs input + the requested maximum output before running a request. */
  readonly countsMaxOutputUpfront: boolean;
  /** The rate-limit headers of a successful answer, if the provider sends any. */
  successHeaders(state: KeyLimitState): Record<string, string> | undefined;
  /** The provider's own 429 (body and headers) for a refused request. */
  refusal(state: KeyLimitState, refusal: LimitRefusal, model: string): Behaviour;
}
