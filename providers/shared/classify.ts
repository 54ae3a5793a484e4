import { ProviderError, type ProviderErrorKind, type RateLimitSnapshot } from '../types';
import { parseRetryHintFromMessage } from './durations';

/**
 * What an adapter learned from a failed HTTP exchange, before classification. Adapters fill in
 * what their wire format offers; `classifyFailure` turns it into the one error taxonomy.
 */
export interface FailureFacts {
  readonly provider: string;
  /** HTTP status; `undefined` for connection errors, timeouts, errors inside a 200 body or SSE event. */
  readonly status: number | undefined;
  /** The provider's own message, already free of secrets. */
  readonly message: string;
  /** Provider error code / type / status string (`rate_limit_exceeded`, `RESOURCE_EXHAUSTED`, `API_KEY_INVALID` …). */
  readonly codes?: readonly (string | number | undefined)[];
  /** When the provider said the quota period: a daily or monthly quota means quota_exhausted. */
  readonly quotaPeriod?: 'minute' | 'day' | 'month';
  readonly retryAfterMs?: number;
  readonly rateLimits?: RateLimitSnapshot;
  readonly cause?: unknown;
  /** Set by adapters when they already know the kind (a timeout, a safety block). */
  readonly kind?: ProviderErrorKind;
}

const CONTEXT_TOO_LONG =
  /context[_ ]length|maximum context|context window|too many tokens|prompt is too long|input is too long|reduce the length|request too large|tokens? per minute \(TPM\): Limit \d+, Requested/i;
const INVALID_KEY =
  /api[_ ]?key[_ ]?invalid|invalid api[_ ]?(key|token)|api key not valid|incorrect api key|unauthori[sz]ed/i;
const LONG_QUOTA = /per[_ -]?day|PerDay|daily|\bTPD\b|\bRPD\b|per[_ -]?month|monthly|trial key|free-models-per-day/i;
const SHORT_QUOTA = /per[_ -]?minute|PerMinute|\bTPM\b|\bRPM\b|per[_ -]?second|per[_ -]?hour/i;
const OVERLOADED = /high traffic|overloaded|temporarily unavailable|capacity/i;
const CONTENT_FILTERED = /flagged|moderation|content[_ ]?(policy|filter)|safety|blocked due to/i;

function codesText(codes: FailureFacts['codes']): string {
  return (codes ?? []).filter((code) => code !== undefined).join(' ');
}

/** Decides the taxonomy class of a failure from its status, codes and message. */
function classifyKind(facts: FailureFacts): ProviderErrorKind {
  if (facts.kind !== undefined) return facts.kind;
  const text = `${codesText(facts.codes)} ${facts.message}`;
  const status = facts.status;

  if (status === 401) return 'auth';
  if (status === 403) return CONTENT_FILTERED.test(text) ? 'content_filtered' : 'auth';
  if (INVALID_KEY.test(text) && (status === 400 || status === undefined)) return 'auth';
  if (status === 413) return 'context_too_long';
  if (status === 429 || /rate[_ ]?limit|RESOURCE_EXHAUSTED|too_many_requests|quota/i.test(text)) {
    if (status === 429 && OVERLOADED.test(text) && !/limit exceeded/i.test(text)) return 'transient';
    if (facts.quotaPeriod === 'day' || facts.quotaPeriod === 'month') return 'quota_exhausted';
    if (facts.quotaPeriod === 'minute' || SHORT_QUOTA.test(text)) return 'rate_limited';
    if (LONG_QUOTA.test(text)) return 'quota_exhausted';
    return 'rate_limited';
  }
  if (status === undefined || status === 408 || status === 409 || status >= 500) {
    if (CONTEXT_TOO_LONG.test(text)) return 'context_too_long';
    return 'transient';
  }
  if (CONTEXT_TOO_LONG.test(text)) return 'context_too_long';
  if (CONTENT_FILTERED.test(text) && status === 400) return 'content_filtered';
  return 'bad_request';
}

/** Builds the `ProviderError` for a failure, with a short message that names the provider and status. */
export function classifyFailure(facts: FailureFacts): ProviderError {
  const kind = classifyKind(facts);
  // An adapter that says the quota is daily or monthly knows a hint in the message is not when it returns.
  const longQuota = facts.quotaPeriod === 'day' || facts.quotaPeriod === 'month';
  const retryAfterMs = facts.retryAfterMs ?? (longQuota ? undefined : parseRetryHintFromMessage(facts.message));
  const statusText = facts.status === undefined ? '' : ` ${facts.status}`;
  const message = `${facts.provider}${statusText} ${kind}: ${truncate(facts.message, 300)}`;
  return new ProviderError({
    kind,
    provider: facts.provider,
    message,
    ...(facts.status === undefined ? {} : { status: facts.status }),
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    ...(kind === 'quota_exhausted' && facts.quotaPeriod === 'month' ? { quotaPeriod: 'month' as const } : {}),
    ...(facts.rateLimits === undefined ? {} : { rateLimits: facts.rateLimits }),
    ...(facts.cause === undefined ? {} : { cause: facts.cause }),
  });
}

function truncate(text: string, max: number): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length <= max ? oneLine : `${oneLine.slice(0, max - 1)}…`;
}

/**
 * A failure that is the provider's and passes: a malformed answer, a stream that broke off. The
 * router tries another provider.
 */
export function transientFailure(provider: string, message: string, rateLimits?: RateLimitSnapshot): ProviderError {
  return classifyFailure({
    provider,
    status: undefined,
    message,
    kind: 'transient',
    ...(rateLimits === undefined ? {} : { rateLimits }),
  });
}

/** "malformed response: …": an answer the provider sent that does not have the shape it should. */
export function malformedResponse(provider: string, what: string, rateLimits?: RateLimitSnapshot): ProviderError {
  return transientFailure(provider, `malformed response: ${what}`, rateLimits);
}

/** "the stream ended without …": a connection cut before the provider said it had finished. */
export function streamBrokeOff(provider: string, missing: string, rateLimits?: RateLimitSnapshot): ProviderError {
  return transientFailure(provider, `the stream ended without ${missing} (connection cut?)`, rateLimits);
}
