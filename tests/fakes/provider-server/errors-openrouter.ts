import type { Behaviour } from './types';

/**
 * OpenRouter error responses as the API sends them: `{"error":{"code":<status>,"message":…,
 * "metadata":{…}}}`, with the upstream provider's own words in `metadata.raw` and, on its 429s,
 * the rate-limit headers repeated in `metadata.headers`. Resets are epoch milliseconds. Errors can
 * also arrive inside an HTTP 200 body or as an SSE event mid-stream (`error-in-body`).
 * Bodies are copied from live responses quoted in public bug reports and from openrouter.ai/docs.
 */

type ErrorBehaviour = Extract<Behaviour, { type: 'error' }>;
type ErrorInBody = Extract<Behaviour, { type: 'error-in-body' }>;

/** OpenRouter's rate-limit headers; `resetAt` is an epoch timestamp in milliseconds. */
export function openRouterRateLimitHeaders(values: {
  limit?: number;
  remaining?: number;
  resetAt: number;
}): Record<string, string> {
  return {
    'X-RateLimit-Limit': String(values.limit ?? 20),
    'X-RateLimit-Remaining': String(values.remaining ?? 19),
    'X-RateLimit-Reset': String(values.resetAt),
  };
}

const USER_ID = 'user_2fAkEfAkEfAkEfAkE';

function freeModelsPerDayBody(resetAt: number): object {
  return {
    error: {
      message: 'Rate limit exceeded: free-models-per-day. Add 10 credits to unlock 1000 free model requests per day',
      code: 429,
      metadata: {
        headers: openRouterRateLimitHeaders({ limit: 50, remaining: 0, resetAt }),
        provider_name: null,
      },
    },
    user_id: USER_ID,
  };
}

/** The next UTC midnight after `now`, when OpenRouter's daily free quota resets. */
export function nextUtcMidnight(now: number): number {
  const date = new Date(now);
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate() + 1);
}

export const openRouterErrors = {
  invalidKey: (): ErrorBehaviour => ({
    type: 'error',
    status: 401,
    body: { error: { message: 'No auth credentials found', code: 401 } },
  }),
  /** A key that was deleted or disabled. */
  userNotFound: (): ErrorBehaviour => ({
    type: 'error',
    status: 401,
    body: { error: { message: 'User not found.', code: 401 } },
  }),
  /** The model requires moderation and the input was flagged: content_filtered, not auth. */
  moderationFlagged: (): ErrorBehaviour => ({
    type: 'error',
    status: 403,
    body: {
      error: {
        code: 403,
        message:
          'meta-llama/llama-3.3-70b-instruct requires moderation on OpenAI. Your input was flagged for "harassment".',
        metadata: {
          reasons: ['harassment'],
          flagged_input: 'you are a…',
          provider_name: 'OpenAI',
          model_slug: 'meta-llama/llama-3.3-70b-instruct',
        },
      },
    },
  }),
  insufficientCredits: (): ErrorBehaviour => ({
    type: 'error',
    status: 402,
    body: {
      error: {
        message:
          'This request requires more credits, or fewer max_tokens. You requested up to 4096 tokens, but can only afford 1200. To increase, visit https://openrouter.ai/settings/credits and add more credits',
        code: 402,
        metadata: { provider_name: null },
      },
      user_id: USER_ID,
    },
  }),
  /** The account's 20-per-minute limit on `:free` models; the window resets at `resetAt` (epoch ms). */
  freeModelsPerMinute: (resetAt: number): ErrorBehaviour => ({
    type: 'error',
    status: 429,
    headers: openRouterRateLimitHeaders({ limit: 20, remaining: 0, resetAt }),
    body: {
      error: {
        message: 'Rate limit exceeded: free-models-per-min. ',
        code: 429,
        metadata: {
          headers: openRouterRateLimitHeaders({ limit: 20, remaining: 0, resetAt }),
          provider_name: null,
        },
      },
      user_id: USER_ID,
    },
  }),
  /** The upstream provider of a `:free` model is saturated; it says how long to wait. */
  upstreamRateLimited: (retryAfterSeconds = 17): ErrorBehaviour => ({
    type: 'error',
    status: 429,
    body: {
      error: {
        message: 'Provider returned error',
        code: 429,
        metadata: {
          raw: 'meta-llama/llama-3.3-70b-instruct:free is temporarily rate-limited upstream. Please retry shortly, or add your own key to accumulate your rate limits: https://openrouter.ai/settings/integrations',
          provider_name: 'Venice',
          is_byok: false,
          retry_after_seconds: retryAfterSeconds,
          retry_after_seconds_raw: retryAfterSeconds - 0.993,
          headers: { 'Retry-After': String(retryAfterSeconds) },
        },
      },
      user_id: USER_ID,
    },
  }),
  /** The account's 50 `:free` requests of the UTC day are used up; headers only in the body. */
  freeModelsPerDay: (resetAt: number = nextUtcMidnight(Date.now())): ErrorBehaviour => ({
    type: 'error',
    status: 429,
    body: freeModelsPerDayBody(resetAt),
  }),
  /** The same daily quota, but as OpenRouter sometimes sends it: inside an HTTP 200 body. */
  freeModelsPerDayIn200: (resetAt: number = nextUtcMidnight(Date.now())): ErrorInBody => ({
    type: 'error-in-body',
    body: freeModelsPerDayBody(resetAt),
  }),
  /** An SSE error event after `afterChunks` text chunks: the upstream provider dropped out. */
  providerDisconnectedMidStream: (text: string, afterChunks: number): ErrorInBody => ({
    type: 'error-in-body',
    text,
    afterChunks,
    body: {
      id: 'gen-1760000000-fAkEfAkEfAkE',
      object: 'chat.completion.chunk',
      created: 1_760_000_000,
      model: 'meta-llama/llama-3.3-70b-instruct:free',
      provider: 'Venice',
      error: { code: 'server_error', message: 'Provider disconnected unexpectedly' },
      choices: [{ index: 0, delta: { content: '' }, finish_reason: 'error' }],
    },
  }),
  /** A quota error event mid-stream, `code` being the HTTP status it stands for. */
  rateLimitedMidStream: (text: string, afterChunks: number): ErrorInBody => ({
    type: 'error-in-body',
    text,
    afterChunks,
    body: {
      error: {
        code: 429,
        message: 'Rate limit exceeded: free-models-per-min. ',
        metadata: { provider_name: null },
      },
    },
  }),
  contextTooLong: (): ErrorBehaviour => ({
    type: 'error',
    status: 400,
    body: {
      error: {
        message:
          'This endpoint\'s maximum context length is 131072 tokens. However, you requested about 140211 tokens (136115 of text input, 4096 in the output). Please reduce the length of either one, or use the "middle-out" transform to compress your prompt automatically.',
        code: 400,
        metadata: { provider_name: null },
      },
      user_id: USER_ID,
    },
  }),
  /** An upstream provider's context-length refusal, relayed with the reason only in `metadata.raw`. */
  upstreamContextTooLong: (): ErrorBehaviour => ({
    type: 'error',
    status: 400,
    body: {
      error: {
        message: 'Provider returned error',
        code: 400,
        metadata: {
          raw: '{"error":{"message":"This model\'s maximum context length is 65536 tokens. Please reduce the length of the messages.","code":"context_length_exceeded"}}',
          provider_name: 'Chutes',
        },
      },
      user_id: USER_ID,
    },
  }),
  serverError: (): ErrorBehaviour => ({
    type: 'error',
    status: 500,
    body: { error: { message: 'Internal Server Error', code: 500 } },
  }),
  badGateway: (): ErrorBehaviour => ({
    type: 'error',
    status: 502,
    body: {
      error: {
        message: 'Provider returned error',
        code: 502,
        metadata: { raw: 'upstream connect error or disconnect/reset before headers', provider_name: 'Venice' },
      },
      user_id: USER_ID,
    },
  }),
  unavailable: (): ErrorBehaviour => ({
    type: 'error',
    status: 503,
    body: {
      error: { message: 'No available model provider that meets your routing requirements', code: 503 },
    },
  }),
  modelNotFound: (model = 'meta-llama/no-such-model:free'): ErrorBehaviour => ({
    type: 'error',
    status: 404,
    body: { error: { message: `No endpoints found for ${model}.`, code: 404 } },
  }),
  invalidModelId: (model = 'no-such-model'): ErrorBehaviour => ({
    type: 'error',
    status: 400,
    body: { error: { message: `${model} is not a valid model ID`, code: 400 }, user_id: USER_ID },
  }),
};
