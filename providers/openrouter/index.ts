import OpenAI from 'openai';
import type { FailureFacts } from '../shared/classify';
import { parseFiniteNumber } from '../shared/durations';
import { type HeaderSource, readHeader } from '../shared/headers';
import {
  createOpenAiCompatibleAdapter,
  type ErrorBody,
  stainlessClientOptions,
  stainlessCompatClient,
} from '../shared/openai-compatible';
import type { AdapterOptions, ProviderAdapter, ProviderDescriptor, RateLimitSnapshot } from '../types';

const PROVIDER = 'openrouter';

/** Below this an epoch timestamp must be in seconds (1e11 ms is 1973; 1e11 s is the year 5138). */
const EPOCH_SECONDS_BELOW = 1e11;

/**
 * OpenRouter announces one request window without naming its period (`X-RateLimit-Limit: 20` is
 * the per-minute one, `50` the daily one), and its reset as an epoch timestamp in milliseconds.
 */
export function readOpenRouterRateLimits(headers: HeaderSource, now: number): RateLimitSnapshot | undefined {
  const limit = parseFiniteNumber(readHeader(headers, 'x-ratelimit-limit'));
  const remaining = parseFiniteNumber(readHeader(headers, 'x-ratelimit-remaining'));
  const reset = parseFiniteNumber(readHeader(headers, 'x-ratelimit-reset'));
  if (limit === undefined && remaining === undefined) return undefined;
  const resetAt = reset === undefined ? undefined : reset < EPOCH_SECONDS_BELOW ? reset * 1000 : reset;
  const resetAfterMs = resetAt === undefined ? undefined : Math.max(0, Math.round(resetAt - now));
  return { requests: { limit, remaining, resetAfterMs } };
}

/** What OpenRouter puts in `error.metadata`: the upstream provider's own words and headers. */
interface OpenRouterErrorMetadata {
  readonly headers?: Readonly<Record<string, unknown>>;
  readonly raw?: unknown;
  readonly retry_after_seconds?: unknown;
}

function metadataOf(body: ErrorBody): OpenRouterErrorMetadata {
  return typeof body.metadata === 'object' && body.metadata !== null ? (body.metadata as OpenRouterErrorMetadata) : {};
}

/**
 * OpenRouter's 429 bodies repeat the rate-limit headers in `metadata.headers`, and an upstream
 * provider's refusal says "Provider returned error" with the real reason in `metadata.raw` and the
 * wait in `metadata.retry_after_seconds`. The raw text joins the codes (it helps classify) but not
 * the message: it is upstream text this adapter cannot vouch is free of secrets.
 * 402 means no credits left: nothing to retry until someone pays.
 */
function refineFailureWith(now: () => number) {
  return (facts: FailureFacts, body: ErrorBody): FailureFacts => {
    const metadata = metadataOf(body);
    const rateLimits =
      facts.rateLimits ??
      (metadata.headers === undefined ? undefined : readOpenRouterRateLimits(metadata.headers, now()));
    const retryAfterSeconds =
      typeof metadata.retry_after_seconds === 'number' ? metadata.retry_after_seconds : undefined;
    const exhaustedWindowReset =
      facts.status === 429 && rateLimits?.requests?.remaining === 0 ? rateLimits.requests.resetAfterMs : undefined;
    const retryAfterMs =
      facts.retryAfterMs ??
      (retryAfterSeconds === undefined ? undefined : retryAfterSeconds * 1000) ??
      exhaustedWindowReset;
    return {
      ...facts,
      codes: [...(facts.codes ?? []), ...(typeof metadata.raw === 'string' ? [metadata.raw] : [])],
      ...(rateLimits === undefined ? {} : { rateLimits }),
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      ...(facts.status === 402 ? { kind: 'quota_exhausted' as const } : {}),
    };
  };
}

function createOpenRouterAdapter(options: AdapterOptions): ProviderAdapter {
  return createOpenAiCompatibleAdapter({
    provider: PROVIDER,
    options,
    maxTokensParam: 'max_tokens',
    // Usage then arrives in a final chunk with empty `choices`.
    askStreamUsage: true,
    readRateLimits: readOpenRouterRateLimits,
    refineFailure: refineFailureWith(options.now ?? Date.now),
    clientFor: (apiKey) => {
      // The OpenAI client reads OPENAI_ORG_ID / OPENAI_PROJECT_ID / OPENAI_ADMIN_KEY from the
      // environment and would send them along: they belong to OpenAI, not to OpenRouter. (It also
      // adds the headers of OPENAI_CUSTOM_HEADERS to every request; no option turns that off.)
      const client = new OpenAI({
        ...stainlessClientOptions(apiKey, options),
        organization: null,
        project: null,
        adminAPIKey: null,
        webhookSecret: null,
      });
      return stainlessCompatClient(client.chat.completions);
    },
  });
}

export const openRouterProvider: ProviderDescriptor = {
  name: PROVIDER,
  envPrefix: 'OPENROUTER',
  defaultBaseUrl: 'https://openrouter.ai/api/v1',
  wireFormat: 'openai-chat',
  // OpenRouter's free models router: it picks, per request, one of the free models that can take
  // it, so the default outlives the `:free` line-up's churn (docs/providers.md).
  defaultModel: 'openrouter/free',
  // The router names 200,000 tokens, but the free models behind it vary and some take far less,
  // so trim history for a third of that.
  contextWindowTokens: 65_536,
  // `:free` models (docs/providers.md): 20 RPM, 50 RPD per account (1,000 after buying credits), UTC day.
  defaultLimits: { requestsPerMinute: 20, requestsPerDay: 50 },
  dailyResetZone: 'UTC',
  // Its help centre says failed attempts count toward the daily quota (docs/providers.md).
  refusalsCounted: true,
  // The free models router again: for a request with an image it picks a free model that takes
  // images (docs/providers.md, "Media models"); free models share the account's limits. Override
  // with OPENROUTER_VISION_MODEL.
  roles: {
    vision: {
      defaultModel: 'openrouter/free',
      operations: ['chat'],
      inputs: ['text', 'image'],
      contextWindowTokens: 65_536,
      sharedQuota: true,
    },
  },
  create: createOpenRouterAdapter,
};
