import { isDailyRefusal, type LimitKind, type ProviderDialect, type RateLimitDialect } from '../dialect';
import { geminiErrors } from '../errors-gemini';
import { geminiFormat } from '../gemini';

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
  }, // No monthly quota here: one configured anyway is refused as the day's requests.
  rpmo: { quotaId: 'GenerateRequestsPerDayPerProjectPerModel-FreeTier', metric: 'generate_content_free_tier_requests' },
};

const limits: RateLimitDialect = {
  minuteWindow: 'sliding',
  countsMaxOutputUpfront: false,
  successHeaders: () => undefined,
  refusal: (_state, refusal, model) => {
    const quota = GEMINI_QUOTAS[refusal.kind];
    // Per-day refusals still carry a short RetryInfo; only the quota id says the day is over.
    const delayMs = isDailyRefusal(refusal) ? 21_118 : refusal.retryAfterMs;
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
            `* Quota exceeded for metric: ${service}/${quota.metric}, limit: ${refusal.limit}, model: ${model}\n` +
            `Please retry in ${(delayMs / 1000).toFixed(6)}s.`,
          details: [
            {
              '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
              violations: [
                {
                  quotaMetric: `${service}/${quota.metric}`,
                  quotaId: quota.quotaId,
                  quotaDimensions: { location: 'global', model },
                  quotaValue: String(refusal.limit),
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

export const dialect: ProviderDialect = {
  format: (mount) => geminiFormat(mount),
  errors: {
    // A key that does not exist: 400 API_KEY_INVALID, not 401.
    invalidKey: geminiErrors.invalidKey,
    forbidden: geminiErrors.keyBlocked,
    keySuspended: geminiErrors.consumerSuspended,
    rateLimited: (retryAfter) => geminiErrors.requestsPerMinute(`${retryAfter}s`),
    quotaExhausted: () => geminiErrors.requestsPerDay(),
    serverError: geminiErrors.internal,
    unavailable: geminiErrors.overloaded,
    contextTooLong: geminiErrors.contextTooLong,
    modelNotFound: () => geminiErrors.modelNotFound(),
  },
  limits,
};
