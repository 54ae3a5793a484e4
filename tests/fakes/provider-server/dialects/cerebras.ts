import type { Behaviour } from '../types';
import {
  type KeyLimitState,
  type LimitKind,
  type ProviderDialect,
  type RateLimitDialect,
  secondsText,
  windowHeaders,
} from '../dialect';
import { cerebrasErrors } from '../errors-cerebras';
import { openAiCompatibleFormat } from '../openai-compatible';

// Cerebras: the documented day-request and minute-token windows, resets in float seconds.
function cerebrasHeaders(state: KeyLimitState): Record<string, string> {
  const { limits, now } = state;
  return {
    ...windowHeaders(limits.requestsPerDay, state.requestsToday, {
      limit: 'x-ratelimit-limit-requests-day',
      remaining: 'x-ratelimit-remaining-requests-day',
      reset: ['x-ratelimit-reset-requests-day', secondsText(state.dayEndsAt - now)],
    }),
    ...windowHeaders(limits.tokensPerMinute, state.tokensThisMinute, {
      limit: 'x-ratelimit-limit-tokens-minute',
      remaining: 'x-ratelimit-remaining-tokens-minute',
      reset: ['x-ratelimit-reset-tokens-minute', secondsText(state.minuteWindowResetAt - now)],
    }),
  };
}

const CEREBRAS_REFUSALS: Record<LimitKind, () => Extract<Behaviour, { type: 'error' }>> = {
  rpm: () => cerebrasErrors.requestsPerMinute(),
  tpm: () => cerebrasErrors.tokensPerMinute(),
  rpd: () => cerebrasErrors.requestsPerDay(),
  tpd: () => cerebrasErrors.tokensPerDay(),
  // No monthly quota here: one configured anyway is refused with the daily words.
  rpmo: () => cerebrasErrors.requestsPerDay(),
};

const limits: RateLimitDialect = {
  minuteWindow: 'sliding',
  // Cerebras counts input + `max_completion_tokens` against TPM before running the request.
  countsMaxOutputUpfront: true,
  successHeaders: cerebrasHeaders,
  // The fixtures' bodies, with headers that tell this key's real state.
  refusal: (state, refusal) => ({ ...CEREBRAS_REFUSALS[refusal.kind](), headers: cerebrasHeaders(state) }),
};

export const dialect: ProviderDialect = {
  format: (mount) =>
    openAiCompatibleFormat({ dialect: mount, path: '/v1/chat/completions', streamUsage: 'last-chunk' }),
  errors: {
    invalidKey: cerebrasErrors.invalidKey,
    forbidden: cerebrasErrors.notAuthenticated,
    rateLimited: (retryAfter) => cerebrasErrors.requestsPerMinute(retryAfter),
    quotaExhausted: cerebrasErrors.requestsPerDay,
    serverError: cerebrasErrors.serverError,
    unavailable: cerebrasErrors.unavailable,
    contextTooLong: cerebrasErrors.contextTooLong,
    modelNotFound: () => cerebrasErrors.modelNotFound(),
  },
  limits,
};
