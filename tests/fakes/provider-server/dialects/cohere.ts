import { isDailyRefusal, type ProviderDialect, type RateLimitDialect } from '../dialect';
import { cohereFormat } from '../cohere';
import { cohereErrors, cohereTrialHeaders } from '../errors-cohere';

// Cohere: trial headers on answers only; 429s in words, without a retry-after.
const limits: RateLimitDialect = {
  minuteWindow: 'fixed',
  countsMaxOutputUpfront: false,
  successHeaders: (state) =>
    cohereTrialHeaders({ remaining: Math.max(0, (state.limits.requestsPerMinute ?? 0) - state.requestsThisMinute) }),
  // The descriptor spreads the monthly trial cap over days; the daily refusal is the monthly one's words.
  refusal: (_state, refusal) => (isDailyRefusal(refusal) ? cohereErrors.trialMonthly() : cohereErrors.perMinute()),
};

export const dialect: ProviderDialect = {
  format: (mount) => cohereFormat(mount),
  errors: {
    invalidKey: cohereErrors.invalidKey,
    rateLimited: (retryAfter) => cohereErrors.perMinute(retryAfter),
    quotaExhausted: cohereErrors.trialMonthly,
    serverError: cohereErrors.serverError,
    unavailable: cohereErrors.unavailable,
    contextTooLong: cohereErrors.contextTooLong,
    modelNotFound: () => cohereErrors.modelNotFound(),
  },
  limits,
};
