import type { Behaviour } from './types';

/**
 * Groq's error responses as the API sends them (bodies and headers copied from its docs and
 * from docs/providers.md), so adapters are tested against what they will meet.
 */

type ErrorBehaviour = Extract<Behaviour, { type: 'error' }>;

export const groqErrors = {
  invalidKey: (): ErrorBehaviour => ({
    type: 'error',
    status: 401,
    body: { error: { message: 'Invalid API Key', type: 'invalid_request_error', code: 'invalid_api_key' } },
  }),
  forbidden: (): ErrorBehaviour => ({
    type: 'error',
    status: 403,
    body: { error: { message: 'Forbidden', type: 'permission_error' } },
  }),
  tokensPerMinute: (retryAfterSeconds = 5): ErrorBehaviour => ({
    type: 'error',
    status: 429,
    headers: {
      'retry-after': String(retryAfterSeconds),
      'x-ratelimit-limit-requests': '14400',
      'x-ratelimit-remaining-requests': '14321',
      'x-ratelimit-reset-requests': '5m45.6s',
      'x-ratelimit-limit-tokens': '6000',
      'x-ratelimit-remaining-tokens': '0',
      'x-ratelimit-reset-tokens': '4.77s',
    },
    body: {
      error: {
        message:
          'Rate limit reached for model `llama-3.1-8b-instant` in organization `org_fake` service tier `on_demand` on tokens per minute (TPM): Limit 6000, Used 5800, Requested 977. Please try again in 4.77s. Need more tokens? Upgrade to Dev Tier today at https://console.groq.com/settings/billing',
        type: 'tokens',
        code: 'rate_limit_exceeded',
      },
    },
  }),
  tokensPerDay: (): ErrorBehaviour => ({
    type: 'error',
    status: 429,
    headers: { 'retry-after': '1714' },
    body: {
      error: {
        message:
          'Rate limit reached for model `llama-3.3-70b-versatile` in organization `org_fake` service tier `on_demand` on tokens per day (TPD): Limit 100000, Used 99681, Requested 1247. Please try again in 28m34.464s.',
        type: 'tokens',
        code: 'rate_limit_exceeded',
      },
    },
  }),
  requestTooLarge: (): ErrorBehaviour => ({
    type: 'error',
    status: 413,
    body: {
      error: {
        message:
          'Request too large for model `llama-3.1-8b-instant` in organization `org_fake` service tier `on_demand` on tokens per minute (TPM): Limit 6000, Requested 9000, please reduce your message size and try again.',
        type: 'tokens',
        code: 'rate_limit_exceeded',
      },
    },
  }),
  contextTooLong: (): ErrorBehaviour => ({
    type: 'error',
    status: 400,
    body: {
      error: {
        message:
          "Please reduce the length of the messages or completion. This model's maximum context length is 131072 tokens.",
        type: 'invalid_request_error',
        param: 'messages',
        code: 'context_length_exceeded',
      },
    },
  }),
  serverError: (): ErrorBehaviour => ({
    type: 'error',
    status: 500,
    body: { error: { message: 'Internal Server Error', type: 'internal_server_error' } },
  }),
  unavailable: (): ErrorBehaviour => ({
    type: 'error',
    status: 503,
    body: { error: { message: 'Service Unavailable', type: 'internal_server_error' } },
  }),
  modelNotFound: (): ErrorBehaviour => ({
    type: 'error',
    status: 404,
    body: {
      error: {
        message: 'The model `no-such-model` does not exist or you do not have access to it.',
        type: 'invalid_request_error',
        code: 'model_not_found',
      },
    },
  }),
};

/** Groq's rate-limit headers on a successful response. */
export function groqRateLimitHeaders(
  values: { requestsLeftToday?: number; tokensLeftThisMinute?: number } = {},
): Record<string, string> {
  return {
    'x-ratelimit-limit-requests': '14400',
    'x-ratelimit-remaining-requests': String(values.requestsLeftToday ?? 14370),
    'x-ratelimit-reset-requests': '2m59.56s',
    'x-ratelimit-limit-tokens': '6000',
    'x-ratelimit-remaining-tokens': String(values.tokensLeftThisMinute ?? 5880),
    'x-ratelimit-reset-tokens': '7.66s',
  };
}
