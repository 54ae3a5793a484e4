import Cerebras from '@cerebras/cerebras_cloud_sdk';
import type { Fetch as CerebrasFetch } from '@cerebras/cerebras_cloud_sdk/core';
import type {
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionCreateParamsStreaming,
} from '@cerebras/cerebras_cloud_sdk/resources/chat/completions';
import type { FailureFacts } from '../shared/classify';
import { parseDurationMs, parseFiniteNumber } from '../shared/durations';
import { type HeaderSource, readHeader } from '../shared/headers';
import { transportFetch } from '../shared/http-transport';
import { createOpenAiCompatibleAdapter, type ErrorBody, stainlessClientOptions } from '../shared/openai-compatible';
import type { AdapterOptions, ProviderAdapter, ProviderDescriptor, RateLimitSnapshot, RateLimitWindow } from '../types';

const PROVIDER = 'cerebras';

type Count = 'requests' | 'tokens';
type Period = 'minute' | 'day';

/**
 * Cerebras names each window by what it counts and over which period
 * (`x-ratelimit-remaining-tokens-minute`); resets are float seconds (`11.382867097854614`). The
 * documented set is requests-per-day and tokens-per-minute; some accounts also get
 * requests-per-minute and tokens-per-day, read the same way.
 */
export function readCerebrasRateLimits(headers: HeaderSource): RateLimitSnapshot | undefined {
  const window = (count: Count, period: Period): RateLimitWindow | undefined => {
    const limit = parseFiniteNumber(readHeader(headers, `x-ratelimit-limit-${count}-${period}`));
    const remaining = parseFiniteNumber(readHeader(headers, `x-ratelimit-remaining-${count}-${period}`));
    const resetAfterMs = parseDurationMs(readHeader(headers, `x-ratelimit-reset-${count}-${period}`));
    if (limit === undefined && remaining === undefined) return undefined;
    return { limit, remaining, resetAfterMs };
  };
  const snapshot: RateLimitSnapshot = {
    ...definedOnly('requestsPerMinute', window('requests', 'minute')),
    ...definedOnly('requestsPerDay', window('requests', 'day')),
    ...definedOnly('tokensPerMinute', window('tokens', 'minute')),
    ...definedOnly('tokensPerDay', window('tokens', 'day')),
  };
  return Object.keys(snapshot).length === 0 ? undefined : snapshot;
}

function definedOnly<K extends keyof RateLimitSnapshot>(
  key: K,
  window: RateLimitWindow | undefined,
): Partial<Record<K, RateLimitWindow>> {
  return window === undefined ? {} : ({ [key]: window } as Partial<Record<K, RateLimitWindow>>);
}

/** "Tokens per minute limit exceeded …" → the window whose reset says when to retry. */
const WINDOW_IN_MESSAGE: readonly [RegExp, keyof RateLimitSnapshot][] = [
  [/requests per minute/i, 'requestsPerMinute'],
  [/tokens per minute/i, 'tokensPerMinute'],
  [/requests per day/i, 'requestsPerDay'],
  [/tokens per day/i, 'tokensPerDay'],
];

/**
 * Cerebras 429s carry no retry hint in the message; the exhausted window's reset header says when.
 * "We're experiencing high traffic" (`queue_exceeded`) is Cerebras being overloaded, not this key
 * being over its limit: transient, even when it arrives without a status inside a stream.
 */
function refineFailure(facts: FailureFacts, body: ErrorBody): FailureFacts {
  if (body.code === 'queue_exceeded' || /high traffic/i.test(facts.message)) return { ...facts, kind: 'transient' };
  if (facts.retryAfterMs !== undefined || facts.rateLimits === undefined) return facts;
  const key = WINDOW_IN_MESSAGE.find(([pattern]) => pattern.test(facts.message))?.[1];
  const retryAfterMs = key === undefined ? undefined : facts.rateLimits[key]?.resetAfterMs;
  return retryAfterMs === undefined ? facts : { ...facts, retryAfterMs };
}

/**
 * Reads the SSE body of a streamed answer into JSON chunks. The SDK's own decoder (1.91.0, the
 * latest) misses an event boundary that ends a network read (`i < buffer.length - 2` in its
 * `findDoubleNewlineIndex`), so every event waits for the next bytes: the stream runs one event
 * late and the last text before a stall or a cut is lost. It also turns an error event into an
 * `APIConnectionError` that keeps the provider's error only as JSON text in `cause`. Here an
 * error event stays a chunk with `error`, which the shared core classifies like any error body.
 * The SDK still sends the request and turns non-2xx answers into its typed errors.
 */
export async function* readSseChunks(body: AsyncIterable<Uint8Array | string>): AsyncGenerator<unknown> {
  let done = false;
  for await (const event of readSseEvents(body)) {
    // Drain after [DONE] rather than hang up, so the connection can be reused.
    if (done || event.data === '') continue;
    if (event.data.startsWith('[DONE]')) {
      done = true;
      continue;
    }
    const parsed = parseJson(event.data);
    if (event.name === 'error') yield { error: errorOf(parsed) };
    else yield parsed;
  }
}

interface SseEvent {
  readonly name: string | undefined;
  readonly data: string;
}

async function* readSseEvents(body: AsyncIterable<Uint8Array | string>): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder();
  let buffer = '';
  let name: string | undefined;
  let data: string[] = [];
  const dispatch = (): SseEvent | undefined => {
    const event = data.length === 0 && name === undefined ? undefined : { name, data: data.join('\n') };
    name = undefined;
    data = [];
    return event;
  };
  const takeLine = (line: string): SseEvent | undefined => {
    if (line === '') return dispatch();
    if (line.startsWith(':')) return undefined; // a comment (keep-alive)
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'data') data.push(value);
    else if (field === 'event') name = value;
    return undefined;
  };
  for await (const part of body) {
    buffer += typeof part === 'string' ? part : decoder.decode(part, { stream: true });
    let end = buffer.indexOf('\n');
    while (end !== -1) {
      const event = takeLine(buffer.slice(0, end).replace(/\r$/, ''));
      buffer = buffer.slice(end + 1);
      if (event !== undefined) yield event;
      end = buffer.indexOf('\n');
    }
  }
  buffer += decoder.decode();
  const last = buffer === '' ? undefined : takeLine(buffer.replace(/\r$/, ''));
  if (last !== undefined) yield last;
  const unterminated = dispatch();
  if (unterminated !== undefined) yield unterminated;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new Error('malformed response: a stream event is not JSON');
  }
}

function errorOf(parsed: unknown): unknown {
  return typeof parsed === 'object' && parsed !== null && 'error' in parsed ? parsed.error : parsed;
}

/** The SDK's responses carry node-fetch `Headers`, a different type from the global one: copy them. */
function headerRecord(headers: {
  forEach(callback: (value: string, name: string) => void): void;
}): Record<string, string> {
  const record: Record<string, string> = {};
  headers.forEach((value, name) => {
    record[name] = value;
  });
  return record;
}

function createCerebrasAdapter(options: AdapterOptions): ProviderAdapter {
  return createOpenAiCompatibleAdapter({
    provider: PROVIDER,
    options,
    maxTokensParam: 'max_completion_tokens',
    // Cerebras always puts usage in the last chunk; no need to ask.
    askStreamUsage: false,
    readRateLimits: readCerebrasRateLimits,
    refineFailure,
    clientFor: (apiKey) => {
      // No GET /v1/tcp_warming from the constructor (one per key, unasked, counted by nobody).
      const client = new Cerebras({
        ...stainlessClientOptions(apiKey, options),
        warmTCPConnection: false,
        fetch: transportFetch as unknown as CerebrasFetch,
      });
      return {
        async complete(params, signal) {
          const { data, response } = await client.chat.completions
            .create({ ...params, stream: false } as ChatCompletionCreateParamsNonStreaming, { signal })
            .withResponse();
          return { data, headers: headerRecord(response.headers) };
        },
        async stream(params, signal) {
          const response = await client.chat.completions
            .create({ ...params, stream: true } as ChatCompletionCreateParamsStreaming, { signal })
            .asResponse();
          if (response.body === null) throw new Error('malformed response: a stream without a body');
          return { data: readSseChunks(response.body), headers: headerRecord(response.headers) };
        },
      };
    },
  });
}

export const cerebrasProvider: ProviderDescriptor = {
  name: PROVIDER,
  envPrefix: 'CEREBRAS',
  defaultBaseUrl: 'https://api.cerebras.ai',
  wireFormat: 'openai-chat',
  // A current large model on the free tier; the model list churns (retired ids answer 404, which the
  // router treats as a configuration error and skips), so CEREBRAS_MODEL overrides it.
  defaultModel: 'gpt-oss-120b',
  // The model takes 131k, but the free tier caps the context at 64k (65,536); trim for that.
  contextWindowTokens: 65_536,
  // Free tier (docs/providers.md): 30 RPM (900/h), 14,400 RPD, 60k TPM, 1M TPD; override with CEREBRAS_RPM …
  defaultLimits: { requestsPerMinute: 30, requestsPerDay: 14_400, tokensPerMinute: 60_000, tokensPerDay: 1_000_000 },
  dailyResetZone: 'UTC',
  create: createCerebrasAdapter,
};
