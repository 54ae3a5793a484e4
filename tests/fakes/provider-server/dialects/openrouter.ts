import { isDailyRefusal, type ProviderDialect, type RateLimitDialect } from '../dialect';
import { openRouterErrors, openRouterRateLimitHeaders } from '../errors-openrouter';
import { openAiCompatibleFormat } from '../openai-compatible';

// OpenRouter: one request window in the headers, reset as epoch milliseconds.
const limits: RateLimitDialect = {
  // Its `X-RateLimit-Reset` names the end of a window: the clock minute.
  minuteWindow: 'fixed',
  countsMaxOutputUpfront: false,
  successHeaders: (state) => {
    const limit = state.limits.requestsPerMinute;
    if (limit === undefined) return undefined;
    return openRouterRateLimitHeaders({
      limit,
      remaining: Math.max(0, limit - state.requestsThisMinute),
      resetAt: state.minuteWindowResetAt,
    });
  },
  refusal: (state, refusal) =>
    isDailyRefusal(refusal)
      ? openRouterErrors.freeModelsPerDay(state.dayEndsAt)
      : openRouterErrors.freeModelsPerMinute(state.minuteWindowResetAt),
};

export const dialect: ProviderDialect = {
  format: (mount) =>
    openAiCompatibleFormat({ dialect: mount, path: '/api/v1/chat/completions', streamUsage: 'when-asked' }),
  errors: {
    invalidKey: openRouterErrors.invalidKey,
    rateLimited: (retryAfter) => openRouterErrors.freeModelsPerMinute(Date.now() + retryAfter * 1000),
    quotaExhausted: () => openRouterErrors.freeModelsPerDay(),
    serverError: openRouterErrors.serverError,
    unavailable: openRouterErrors.unavailable,
    contextTooLong: openRouterErrors.contextTooLong,
    modelNotFound: () => openRouterErrors.modelNotFound(),
  },
  limits,
};
