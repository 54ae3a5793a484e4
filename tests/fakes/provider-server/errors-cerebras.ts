import type { Behaviour } from './types';

/**
 * Cerebras error responses as the API sends them. Its error bodies are flat (`{message, type,
 * param, code}`, no `error` wrapper). The 401, 403, 404 and 429 bodies and the context-length
 * message are copied from live responses quoted in public bug reports; the 5xx bodies are
 * representative (only their status matters). Rate-limit headers follow
 * inference-docs.cerebras.ai/support/rate-limits: resets are float seconds.
 */

type ErrorBehaviour = Extract<Behaviour, { type: 'error' }>;
type ErrorInBody = Extract<Behaviour, { type: 'error-in-body' }>;

/** Cerebras's rate-limit headers; every response carries them, 429s included. */
export function cerebrasRateLimitHeaders(
  values: { requestsLeftToday?: number; tokensLeftThisMinute?: number; tokensResetSeconds?: string } = {},
): Record<string, string> {
  return {
    'x-ratelimit-limit-requests-day': '14400',
    'x-ratelimit-remaining-requests-day': String(values.requestsLeftToday ?? 14_397),
    'x-ratelimit-reset-requests-day': '33011.382867097855',
    'x-ratelimit-limit-tokens-minute': '60000',
    'x-ratelimit-remaining-tokens-minute': String(values.tokensLeftThisMinute ?? 59_120),
    'x-ratelimit-reset-tokens-minute': values.tokensResetSeconds ?? '11.382867097854614',
  };
}

const tooManyRequests = (message: string, code = 'request_quota_exceeded') => ({
  message,
  type: 'too_many_requests_error',
  param: 'quota',
  code,
});

export const cerebrasErrors = {
  invalidKey: (): ErrorBehaviour => ({
    type: 'error',
    status: 401,
    body: { message: 'Wrong API Key', type: 'invalid_request_error', param: 'api_key', code: 'wrong_api_key' },
  }),
  /** What Cerebras answers when no Authorization header arrives at all. */
  notAuthenticated: (): ErrorBehaviour => ({
    type: 'error',
    status: 403,
    body: { detail: 'Not authenticated' },
  }),
  /** The per-minute token bucket is empty: its reset header says when to come back. */
  tokensPerMinute: (resetSeconds = '4.77'): ErrorBehaviour => ({
    type: 'error',
    status: 429,
    headers: cerebrasRateLimitHeaders({ tokensLeftThisMinute: 0, tokensResetSeconds: resetSeconds }),
    body: tooManyRequests('Tokens per minute limit exceeded - too many tokens processed.'),
  }),
  requestsPerMinute: (retryAfterSeconds?: number): ErrorBehaviour => ({
    type: 'error',
    status: 429,
    headers: {
      ...cerebrasRateLimitHeaders(),
      ...(retryAfterSeconds === undefined ? {} : { 'retry-after': String(retryAfterSeconds) }),
    },
    body: tooManyRequests('Requests per minute limit exceeded - too many requests sent.'),
  }),
  tokensPerDay: (): ErrorBehaviour => ({
    type: 'error',
    status: 429,
    headers: cerebrasRateLimitHeaders(),
    body: tooManyRequests('Tokens per day limit exceeded - too many tokens processed.'),
  }),
  requestsPerDay: (): ErrorBehaviour => ({
    type: 'error',
    status: 429,
    headers: cerebrasRateLimitHeaders({ requestsLeftToday: 0 }),
    body: tooManyRequests('Requests per day limit exceeded - too many requests sent.'),
  }),
  /** Cerebras itself is overloaded: a 429 that says nothing about this key's limits. */
  highTraffic: (): ErrorBehaviour => ({
    type: 'error',
    status: 429,
    body: {
      message: "We're experiencing high traffic right now! Please try again soon.",
      type: 'too_many_requests_error',
      param: 'queue',
      code: 'queue_exceeded',
    },
  }),
  contextTooLong: (): ErrorBehaviour => ({
    type: 'error',
    status: 400,
    body: {
      message: 'Please reduce the length of the messages or completion. Current length is 70231 while limit is 65536',
      type: 'invalid_request_error',
      param: 'messages',
      code: 'context_length_exceeded',
    },
  }),
  serverError: (): ErrorBehaviour => ({
    type: 'error',
    status: 500,
    body: { message: 'Internal server error', type: 'internal_server_error', param: '', code: '' },
  }),
  unavailable: (): ErrorBehaviour => ({
    type: 'error',
    status: 503,
    body: {
      message: 'The service is temporarily unavailable. Please try again later.',
      type: 'service_unavailable_error',
      param: '',
      code: '',
    },
  }),
  /** Cerebras retires model ids often; the old id then answers 404. */
  modelNotFound: (model = 'llama-4-scout-17b-16e-instruct'): ErrorBehaviour => ({
    type: 'error',
    status: 404,
    body: {
      message: `Model ${model} does not exist or you do not have access to it.`,
      type: 'not_found_error',
      param: 'model',
      code: 'model_not_found',
    },
  }),
  /**
   * An error event inside a stream after `afterChunks` text chunks. The SDK reads `error` (and a
   * top-level `status_code`) from such an event.
   */
  highTrafficMidStream: (text: string, afterChunks: number): ErrorInBody => ({
    type: 'error-in-body',
    text,
    afterChunks,
    body: {
      error: {
        message: "We're experiencing high traffic right now! Please try again soon.",
        type: 'too_many_requests_error',
        param: 'queue',
        code: 'queue_exceeded',
      },
      status_code: 429,
    },
  }),
  tokensPerDayMidStream: (text: string, afterChunks: number): ErrorInBody => ({
    type: 'error-in-body',
    text,
    afterChunks,
    body: {
      error: tooManyRequests('Tokens per day limit exceeded - too many tokens processed.'),
      status_code: 429,
    },
  }),
};
