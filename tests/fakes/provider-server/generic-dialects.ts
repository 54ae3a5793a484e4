import type { ProviderDialect } from './dialect-types';
import { openAiCompatibleFormat } from './openai-compatible';
import type { Behaviour } from './types';

/**
 * Dialects for a provider that has no module of its own in `dialects/`, by the wire format its
 * descriptor names: what any provider speaking that format would plausibly say. Only wire formats
 * that several providers share have one; a provider with a protocol of its own brings its dialect.
 */

type ErrorBehaviour = Extract<Behaviour, { type: 'error' }>;

function openAiError(
  status: number,
  error: { message: string; type: string; code?: string },
  headers?: Record<string, string>,
): ErrorBehaviour {
  return { type: 'error', status, body: { error }, ...(headers === undefined ? {} : { headers }) };
}

/** The OpenAI chat-completions format, its error bodies (`{"error": {message, type, code}}`) and `retry-after`. */
const openAiChat: ProviderDialect = {
  // Any `…/chat/completions` path: OpenAI-style SDKs differ in the path they add to the base URL.
  format: (mount) => openAiCompatibleFormat({ dialect: mount, streamUsage: 'when-asked' }),
  errors: {
    invalidKey: () =>
      openAiError(401, {
        message: 'Incorrect API key provided',
        type: 'invalid_request_error',
        code: 'invalid_api_key',
      }),
    rateLimited: (retryAfterSeconds) =>
      openAiError(
        429,
        { message: 'Rate limit reached for requests per minute (RPM).', type: 'requests', code: 'rate_limit_exceeded' },
        { 'retry-after': String(retryAfterSeconds) },
      ),
    quotaExhausted: () =>
      openAiError(429, {
        message: 'Rate limit reached for requests per day (RPD).',
        type: 'requests',
        code: 'rate_limit_exceeded',
      }),
    serverError: () => openAiError(500, { message: 'Internal server error', type: 'server_error' }),
    unavailable: () => openAiError(503, { message: 'Service unavailable', type: 'server_error' }),
    contextTooLong: () =>
      openAiError(400, {
        message: "This model's maximum context length is 8192 tokens. Please reduce the length of the messages.",
        type: 'invalid_request_error',
        code: 'context_length_exceeded',
      }),
    modelNotFound: () =>
      openAiError(404, {
        message: 'The model `no-such-model` does not exist or you do not have access to it.',
        type: 'invalid_request_error',
        code: 'model_not_found',
      }),
  },
  limits: {
    minuteWindow: 'sliding',
    countsMaxOutputUpfront: false,
    successHeaders: () => undefined,
    refusal: (_state, refusal) =>
      openAiError(
        429,
        {
          message: `Rate limit reached (${refusal.kind}): Limit ${refusal.limit}, Used ${refusal.used}, Requested ${refusal.requested}.`,
          type: refusal.kind.startsWith('t') ? 'tokens' : 'requests',
          code: 'rate_limit_exceeded',
        },
        { 'retry-after': String(Math.max(1, Math.ceil(refusal.retryAfterMs / 1000))) },
      ),
  },
};

export const GENERIC_DIALECTS: Readonly<Record<string, ProviderDialect | undefined>> = {
  'openai-chat': openAiChat,
};
