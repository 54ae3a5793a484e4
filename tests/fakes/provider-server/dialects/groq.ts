import {
  type KeyLimitState,
  type LimitKind,
  type ProviderDialect,
  type RateLimitDialect,
  retryAfterSeconds,
  windowHeaders,
} from '../dialect';
import { groqErrors } from '../errors-groq';
import { openAiCompatibleFormat } from '../openai-compatible';

/** Go's `time.Duration` text, as Groq writes it: `850ms`, `7.66s`, `2m59.56s`, `7h3m2.5s`. */
export function goDuration(ms: number): string {
  const rounded = Math.max(0, Math.round(ms));
  if (rounded < 1000) return `${rounded}ms`;
  const hours = Math.floor(rounded / 3_600_000);
  const minutes = Math.floor((rounded % 3_600_000) / 60_000);
  const seconds = (rounded % 60_000) / 1000;
  return `${hours > 0 ? `${hours}h` : ''}${hours > 0 || minutes > 0 ? `${minutes}m` : ''}${seconds}s`;
}

// Groq: requests per DAY and tokens per MINUTE in every response's headers, Go durations.
function groqHeaders(state: KeyLimitState): Record<string, string> {
  const { limits, now } = state;
  return {
    ...windowHeaders(limits.requestsPerDay, state.requestsToday, {
      limit: 'x-ratelimit-limit-requests',
      remaining: 'x-ratelimit-remaining-requests',
      reset: ['x-ratelimit-reset-requests', goDuration(state.dayEndsAt - now)],
    }),
    ...windowHeaders(limits.tokensPerMinute, state.tokensThisMinute, {
      limit: 'x-ratelimit-limit-tokens',
      remaining: 'x-ratelimit-remaining-tokens',
      reset: ['x-ratelimit-reset-tokens', goDuration(state.minuteWindowResetAt - now)],
    }),
  };
}

const GROQ_WINDOWS: Record<LimitKind, { type: string; words: string }> = {
  rpm: { type: 'requests', words: 'requests per minute (RPM)' },
  rpd: { type: 'requests', words: 'requests per day (RPD)' },
  tpm: { type: 'tokens', words: 'tokens per minute (TPM)' },
  tpd: { type: 'tokens', words: 'tokens per day (TPD)' },
  // No monthly quota here: one configured anyway is refused with the daily words.
  rpmo: { type: 'requests', words: 'requests per day (RPD)' },
};

const limits: RateLimitDialect = {
  minuteWindow: 'sliding',
  countsMaxOutputUpfront: false,
  successHeaders: groqHeaders,
  refusal: (state, refusal, model) => {
    const window = GROQ_WINDOWS[refusal.kind];
    return {
      type: 'error',
      status: 429,
      headers: { 'retry-after': retryAfterSeconds(refusal.retryAfterMs), ...groqHeaders(state) },
      body: {
        error: {
          message: `Rate limit reached for model \`${model}\` in organization \`org_fake\` service tier \`on_demand\` on ${window.words}: Limit ${refusal.limit}, Used ${refusal.used}, Requested ${refusal.requested}. Please try again in ${goDuration(refusal.retryAfterMs)}. Need more tokens? Upgrade to Dev Tier today at https://console.groq.com/settings/billing`,
          type: window.type,
          code: 'rate_limit_exceeded',
        },
      },
    };
  },
};

export const dialect: ProviderDialect = {
  format: (mount) =>
    openAiCompatibleFormat({
      dialect: mount,
      path: '/openai/v1/chat/completions',
      streamUsage: 'extension',
      usageExtension: 'x_groq',
      transcriptionPath: '/openai/v1/audio/transcriptions',
    }),
  errors: {
    invalidKey: groqErrors.invalidKey,
    forbidden: groqErrors.forbidden,
    rateLimited: (retryAfter) => groqErrors.tokensPerMinute(retryAfter),
    quotaExhausted: groqErrors.tokensPerDay,
    serverError: groqErrors.serverError,
    unavailable: groqErrors.unavailable,
    contextTooLong: groqErrors.contextTooLong,
    requestTooLarge: groqErrors.requestTooLarge,
    modelNotFound: groqErrors.modelNotFound,
  },
  limits,
};
