import Groq, { toFile } from 'groq-sdk';
import { parseDurationMs, parseFiniteNumber } from '../shared/durations';
import { type HeaderSource, readHeader } from '../shared/headers';
import { fileNameOf } from '../shared/media';
import {
  type CompatChunk,
  type CompatUsage,
  createOpenAiCompatibleAdapter,
  stainlessClientOptions,
  stainlessCompatClient,
} from '../shared/openai-compatible';
import type { AdapterOptions, ProviderAdapter, ProviderDescriptor, RateLimitSnapshot, RateLimitWindow } from '../types';

const PROVIDER = 'groq';

/**
 * Groq's headers: the request window is per DAY, the token window per MINUTE, and resets are Go
 * durations (`2m59.56s`).
 */
export function readGroqRateLimits(headers: HeaderSource): RateLimitSnapshot | undefined {
  const window = (kind: 'requests' | 'tokens'): RateLimitWindow | undefined => {
    const limit = parseFiniteNumber(readHeader(headers, `x-ratelimit-limit-${kind}`));
    const remaining = parseFiniteNumber(readHeader(headers, `x-ratelimit-remaining-${kind}`));
    const resetAfterMs = parseDurationMs(readHeader(headers, `x-ratelimit-reset-${kind}`));
    if (limit === undefined && remaining === undefined) return undefined;
    return { limit, remaining, resetAfterMs };
  };
  const requestsPerDay = window('requests');
  const tokensPerMinute = window('tokens');
  if (requestsPerDay === undefined && tokensPerMinute === undefined) return undefined;
  return { requestsPerDay, tokensPerMinute };
}

/** Groq reports streaming usage in the last chunk's `x_groq.usage`. */
function usageFromChunk(chunk: CompatChunk): CompatUsage | undefined {
  const extra = (chunk as { x_groq?: { usage?: CompatUsage | null } }).x_groq;
  return extra?.usage ?? undefined;
}

/**
 * Qwen 3 models on Groq think aloud: by default their answer starts with the thinking between
 * `<think>` tags. `hidden` keeps it out of the answer (docs/providers.md). Groq refuses the
 * parameter for models that do not reason this way, so only these get it.
 */
function extraParams(model: string): { reasoning_format: 'hidden' } | undefined {
  return model.startsWith('qwen/qwen3') ? { reasoning_format: 'hidden' } : undefined;
}

function createGroqAdapter(options: AdapterOptions): ProviderAdapter {
  return createOpenAiCompatibleAdapter({
    provider: PROVIDER,
    options,
    extraParams,
    maxTokensParam: 'max_completion_tokens',
    askStreamUsage: false,
    usageFromChunk,
    readRateLimits: readGroqRateLimits,
    clientFor: (apiKey) => {
      const client = new Groq(stainlessClientOptions(apiKey, options));
      return stainlessCompatClient(client.chat.completions);
    },
    // Whisper: `POST {base}/openai/v1/audio/transcriptions`, multipart `file` + `model`.
    transcriberFor: (apiKey) => {
      const client = new Groq(stainlessClientOptions(apiKey, options));
      return {
        async transcribe({ model, audio }, signal) {
          const file = await toFile(audio.data, fileNameOf(audio), { type: audio.mimeType });
          const { data, response } = await client.audio.transcriptions
            .create({ file, model, response_format: 'json' }, { signal })
            .withResponse();
          return { data, headers: response.headers };
        },
      };
    },
  });
}

export const groqProvider: ProviderDescriptor = {
  name: PROVIDER,
  envPrefix: 'GROQ',
  defaultBaseUrl: 'https://api.groq.com',
  wireFormat: 'openai-chat',
  // llama-3.3-70b-versatile, the default until 2026-12, was shut down on 2026-08-16 (docs/providers.md).
  defaultModel: 'openai/gpt-oss-120b',
  contextWindowTokens: 131_072,
  // Free tier of openai/gpt-oss-120b (docs/providers.md); override with GROQ_RPM / GROQ_RPD / GROQ_TPM / GROQ_TPD.
  defaultLimits: { requestsPerMinute: 30, requestsPerDay: 1_000, tokensPerMinute: 8_000, tokensPerDay: 200_000 },
  dailyResetZone: 'UTC',
  // Free-tier models of their own, each with its own limits (docs/providers.md, "Media models");
  // override with GROQ_VISION_MODEL / GROQ_TRANSCRIPTION_MODEL (`none` switches one off).
  roles: {
    // Qwen 3.6 27B, the replacement Groq names for Llama 4 Scout (shut down 2026-07-17), in preview.
    vision: {
      defaultModel: 'qwen/qwen3.6-27b',
      operations: ['chat'],
      inputs: ['text', 'image'],
      contextWindowTokens: 131_072,
      defaultLimits: { requestsPerMinute: 30, requestsPerDay: 1_000, tokensPerMinute: 8_000, tokensPerDay: 200_000 },
    },
    transcription: {
      defaultModel: 'whisper-large-v3-turbo',
      operations: ['transcription'],
      inputs: ['audio'],
      // Tokens of a transcription model are seconds of audio: 7,200 an hour and 28,800 a day (docs/providers.md).
      defaultLimits: { requestsPerMinute: 20, requestsPerDay: 2_000, tokensPerHour: 7_200, tokensPerDay: 28_800 },
    },
  },
  create: createGroqAdapter,
};
