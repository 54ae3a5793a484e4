/**
 * The OpenAI chat-completions dialect, shared by the adapters whose official SDKs speak it (they
 * are all generated from the same template, so their errors and streams look alike). An adapter
 * supplies its SDK client, how to read its rate-limit headers, and any quirk of its wire format;
 * this module turns the exchange into the normalized port of `providers/types.ts`.
 */
import {
  type AdapterOptions,
  type ChatMessage,
  type ChatRequest,
  type ChatResult,
  type FinishReason,
  type MediaPart,
  ProviderError,
  type ProviderAdapter,
  type RateLimitSnapshot,
  type StreamEvent,
  type Usage,
} from '../types';
import type { AttemptControl } from './attempt';
import { classifyFailure, type FailureFacts, malformedResponse, streamBrokeOff, transientFailure } from './classify';
import { parseFiniteNumber, parseRetryAfterHeader } from './durations';
import { type HeaderSource, readHeader } from './headers';
import { transportFetch } from './http-transport';
import { audioToTranscribe, dataUrlOf, unsendable } from './media';
import { abortedAttemptError, runAttempt, streamAttempt } from './run-attempt';
import { redactSecrets } from './secrets';

export interface CompatUsage {
  readonly prompt_tokens?: number | null;
  readonly completion_tokens?: number | null;
  readonly total_tokens?: number | null;
}

interface CompatCompletion {
  readonly model?: string;
  readonly choices?: readonly {
    readonly message?: { readonly content?: string | null } | null;
    readonly finish_reason?: string | null;
  }[];
  readonly usage?: CompatUsage | null;
  readonly error?: unknown;
}

export interface CompatChunk {
  readonly model?: string;
  readonly choices?: readonly {
    readonly delta?: { readonly content?: string | null } | null;
    readonly finish_reason?: string | null;
  }[];
  readonly usage?: CompatUsage | null;
  readonly error?: unknown;
}

/** A content part of a message that carries media (text first, then the images). */
export type CompatContentPart = { type: 'text'; text: string } | { type: 'image_url'; image_url: { url: string } };

/** A message on the wire: only a user turn carries content parts. */
export type CompatMessage =
  | { role: 'system' | 'assistant'; content: string }
  | { role: 'user'; content: string | CompatContentPart[] };

/** The request body every OpenAI-compatible endpoint understands. */
export interface CompatParams {
  readonly model: string;
  readonly messages: CompatMessage[];
  readonly temperature?: number;
  readonly max_tokens?: number;
  readonly max_completion_tokens?: number;
  readonly response_format?: { type: 'json_object' };
  readonly stream_options?: { include_usage: boolean };
  /** Where a reasoning model's thinking goes, for providers that take it (`hidden`: not in the answer). */
  readonly reasoning_format?: 'hidden' | 'raw' | 'parsed';
}

/**
 * An SDK's OpenAI-style `audio.transcriptions` (multipart upload of one file), with the raw response
 * headers; `data` is `{text}` (response_format `json`).
 */
export interface CompatTranscriber {
  transcribe(
    params: { readonly model: string; readonly audio: MediaPart },
    signal: AbortSignal,
  ): Promise<{ data: unknown; headers: HeaderSource }>;
}

/** What an adapter wraps around its SDK client: the two calls, with the raw response headers. */
export interface CompatClient {
  complete(params: CompatParams, signal: AbortSignal): Promise<{ data: unknown; headers: HeaderSource }>;
  stream(params: CompatParams, signal: AbortSignal): Promise<{ data: AsyncIterable<unknown>; headers: HeaderSource }>;
}

/**
 * The constructor options every Stainless-generated SDK client gets here: retries off (the router
 * owns them), the SDK's timeout a backstop behind our own timers, and HTTP through our transport.
 */
export function stainlessClientOptions(
  apiKey: string,
  options: AdapterOptions,
): { apiKey: string; baseURL: string | undefined; maxRetries: 0; timeout: number; fetch: typeof fetch } {
  return { apiKey, baseURL: options.baseUrl, maxRetries: 0, timeout: options.timeoutMs * 2, fetch: transportFetch };
}

/** The part of a Stainless-generated SDK client (several official SDKs are) the adapters call. */
export interface StainlessCompletions {
  create(
    body: CompatParams & { stream: boolean },
    options: { signal: AbortSignal },
  ): { withResponse(): Promise<{ data: unknown; response: { headers: HeaderSource } }> };
}

/** A CompatClient over a Stainless SDK's `chat.completions`, keeping the raw response headers. */
export function stainlessCompatClient(completions: StainlessCompletions): CompatClient {
  return {
    async complete(params, signal) {
      const { data, response } = await completions.create({ ...params, stream: false }, { signal }).withResponse();
      return { data, headers: response.headers };
    },
    async stream(params, signal) {
      const { data, response } = await completions.create({ ...params, stream: true }, { signal }).withResponse();
      return { data: data as AsyncIterable<unknown>, headers: response.headers };
    },
  };
}

export interface CompatSpec {
  readonly provider: string;
  readonly options: AdapterOptions;
  readonly clientFor: (apiKey: string) => CompatClient;
  /** Reads the provider's rate-limit headers; the clock converts absolute reset times. */
  readonly readRateLimits: (headers: HeaderSource, now: number) => RateLimitSnapshot | undefined;
  /** Name of the output-token limit parameter the provider prefers. */
  readonly maxTokensParam: 'max_tokens' | 'max_completion_tokens';
  /** Ask for usage in streams with `stream_options.include_usage` (some endpoints reject it). */
  readonly askStreamUsage: boolean;
  /** Usage reported somewhere other than `chunk.usage`. */
  readonly usageFromChunk?: (chunk: CompatChunk) => CompatUsage | null | undefined;
  /** Adds what only this provider's errors say (a quota period, a retry hint) to the generic facts. */
  readonly refineFailure?: (facts: FailureFacts, body: ErrorBody) => FailureFacts;
  /** The provider's speech-to-text endpoint, when its models offer transcription. */
  readonly transcriberFor?: (apiKey: string) => CompatTranscriber;
  /** Parameters only this provider takes, for the model asked (e.g. how a reasoning model shows its thinking). */
  readonly extraParams?: (model: string) => Pick<CompatParams, 'reasoning_format'> | undefined;
}

/** The error object of a failure, as far as OpenAI-compatible bodies go. */
export interface ErrorBody {
  readonly message?: string;
  readonly type?: string;
  readonly code?: string | number;
  readonly status?: string;
  readonly metadata?: unknown;
}

export function createOpenAiCompatibleAdapter(spec: CompatSpec): ProviderAdapter {
  const clients = new Map<string, CompatClient>();
  const now = spec.options.now ?? Date.now;
  const clientFor = (apiKey: string): CompatClient => {
    let client = clients.get(apiKey);
    if (client === undefined) {
      client = spec.clientFor(apiKey);
      clients.set(apiKey, client);
    }
    return client;
  };

  const transcribers = new Map<string, CompatTranscriber>();
  const transcriberFor = (apiKey: string): CompatTranscriber | undefined => {
    if (spec.transcriberFor === undefined) return undefined;
    let transcriber = transcribers.get(apiKey);
    if (transcriber === undefined) {
      transcriber = spec.transcriberFor(apiKey);
      transcribers.set(apiKey, transcriber);
    }
    return transcriber;
  };

  const buildParams = (request: ChatRequest, stream: boolean): CompatParams => ({
    ...spec.extraParams?.(request.model ?? spec.options.model),
    model: request.model ?? spec.options.model,
    messages: request.messages.map(
      (message): CompatMessage =>
        message.role === 'user' && message.media !== undefined && message.media.length > 0
          ? { role: 'user', content: contentParts(spec.provider, message) }
          : { role: message.role, content: message.content },
    ),
    ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
    ...(request.maxOutputTokens === undefined ? {} : { [spec.maxTokensParam]: request.maxOutputTokens }),
    ...(request.json === true ? { response_format: { type: 'json_object' as const } } : {}),
    ...(stream && spec.askStreamUsage ? { stream_options: { include_usage: true } } : {}),
  });

  const toError = (error: unknown, apiKey: string, control: AttemptControl, request: ChatRequest): ProviderError =>
    toProviderError(spec, error, apiKey, control, request, now);

  const adapter: ProviderAdapter = {
    name: spec.provider,
    model: spec.options.model,

    async complete(request, apiKey) {
      const params = buildParams(request, false);
      return runAttempt(request, spec.options, async (control) => {
        const started = performance.now();
        try {
          const { data, headers } = await Promise.race([
            clientFor(apiKey).complete(params, control.signal),
            control.whenAborted(),
          ]);
          const rateLimits = spec.readRateLimits(headers, now());
          const completion = data as CompatCompletion;
          const choice = Array.isArray(completion?.choices) ? completion.choices[0] : undefined;
          if (completion?.error !== undefined) throw bodyFailure(spec, completion.error, rateLimits, redactor(apiKey));
          if (choice === undefined || typeof choice.message?.content !== 'string') {
            throw malformedResponse(spec.provider, 'the answer has no message content', rateLimits);
          }
          return {
            text: choice.message.content,
            ...finish(choice.finish_reason),
            usage: toUsage(completion.usage),
            model: completion.model ?? params.model,
            latencyMs: performance.now() - started,
            rateLimits,
          } satisfies ChatResult;
        } catch (error) {
          throw toError(error, apiKey, control, request);
        }
      });
    },

    stream(request, apiKey) {
      const params = buildParams(request, true);
      return streamAttempt(request, spec.options, async function* (control, idle) {
        const started = performance.now();
        let firstTokenAt: number | undefined;
        let finishReason: string | null | undefined;
        let usage: CompatUsage | null | undefined;
        let model = params.model;
        let rateLimits: RateLimitSnapshot | undefined;
        try {
          const { data, headers } = await Promise.race([
            clientFor(apiKey).stream(params, control.signal),
            control.whenAborted(),
          ]);
          rateLimits = spec.readRateLimits(headers, now());
          for await (const raw of idle(data)) {
            const chunk = raw as CompatChunk;
            if (typeof chunk !== 'object' || chunk === null)
              throw malformedResponse(spec.provider, 'a stream chunk is not JSON', rateLimits);
            if (chunk.error !== undefined) throw bodyFailure(spec, chunk.error, rateLimits, redactor(apiKey));
            if (typeof chunk.model === 'string') model = chunk.model;
            usage = spec.usageFromChunk?.(chunk) ?? chunk.usage ?? usage;
            const choice = chunk.choices?.[0];
            if (choice?.finish_reason) finishReason = choice.finish_reason;
            const text = choice?.delta?.content;
            if (typeof text === 'string' && text !== '') {
              firstTokenAt ??= performance.now();
              yield { type: 'text-delta', text } satisfies StreamEvent;
            }
          }
        } catch (error) {
          throw toError(error, apiKey, control, request);
        }
        if (finishReason === undefined || finishReason === null) {
          throw streamBrokeOff(spec.provider, 'a finish reason', rateLimits);
        }
        yield {
          type: 'finish',
          ...finish(finishReason),
          usage: toUsage(usage),
          model,
          timeToFirstTokenMs: firstTokenAt === undefined ? undefined : firstTokenAt - started,
          latencyMs: performance.now() - started,
          rateLimits,
        } satisfies StreamEvent;
      });
    },
  };
  if (spec.transcriberFor === undefined) return adapter;
  return {
    ...adapter,
    async transcribe(request, apiKey) {
      const model = request.model ?? spec.options.model;
      const audio = audioToTranscribe(spec.provider, request);
      return runAttempt(request, spec.options, async (control) => {
        const started = performance.now();
        try {
          const { data, headers } = await Promise.race([
            transcriberFor(apiKey)!.transcribe({ model, audio }, control.signal),
            control.whenAborted(),
          ]);
          const rateLimits = spec.readRateLimits(headers, now());
          const text = (data as { text?: unknown } | null)?.text;
          if (typeof text !== 'string')
            throw malformedResponse(spec.provider, 'the transcription has no text', rateLimits);
          return {
            text: text.trim(),
            finishReason: 'stop',
            rawFinishReason: undefined,
            // Speech-to-text reports no tokens: it is counted in requests and audio seconds.
            usage: { inputTokens: undefined, outputTokens: undefined, totalTokens: undefined },
            model,
            latencyMs: performance.now() - started,
            rateLimits,
          } satisfies ChatResult;
        } catch (error) {
          throw toError(error, apiKey, control, request);
        }
      });
    },
  };
}

/** A message with media as content parts: its text (when there is any) first, then each image. */
function contentParts(provider: string, message: ChatMessage): CompatContentPart[] {
  const parts: CompatContentPart[] = message.content === '' ? [] : [{ type: 'text', text: message.content }];
  for (const part of message.media ?? []) {
    if (part.kind !== 'image') throw unsendable(provider, part);
    parts.push({ type: 'image_url', image_url: { url: dataUrlOf(part) } });
  }
  return parts;
}

function normalizeFinishReason(raw: string | null | undefined): FinishReason {
  switch (raw) {
    case 'stop':
    case 'end_turn':
      return 'stop';
    case 'length':
    case 'max_tokens':
      return 'length';
    case 'content_filter':
      return 'content_filter';
    case 'tool_calls':
    case 'function_call':
      return 'tool_calls';
    default:
      return 'other';
  }
}

function finish(raw: string | null | undefined): { finishReason: FinishReason; rawFinishReason: string | undefined } {
  return { finishReason: normalizeFinishReason(raw), rawFinishReason: raw ?? undefined };
}

function toUsage(usage: CompatUsage | null | undefined): Usage {
  const inputTokens = usage?.prompt_tokens ?? undefined;
  const outputTokens = usage?.completion_tokens ?? undefined;
  const totalTokens =
    usage?.total_tokens ??
    (inputTokens !== undefined && outputTokens !== undefined ? inputTokens + outputTokens : undefined);
  return { inputTokens, outputTokens, totalTokens };
}

function redactor(apiKey: string): (text: string) => string {
  return (text) => redactSecrets(text, [apiKey]);
}

/** Reads `{message, type, code}` whether the SDK kept the whole body or only its `error` member. */
function errorBodyOf(value: unknown): ErrorBody {
  if (typeof value !== 'object' || value === null) return typeof value === 'string' ? { message: value } : {};
  const record = value as Record<string, unknown>;
  const inner = record.error;
  if (typeof inner === 'object' && inner !== null) return errorBodyOf(inner);
  const text = (key: string): string | undefined => (typeof record[key] === 'string' ? record[key] : undefined);
  const code = record.code;
  return {
    ...(text('message') === undefined
      ? typeof inner === 'string'
        ? { message: inner }
        : {}
      : { message: text('message') }),
    ...(text('type') === undefined ? {} : { type: text('type') }),
    ...(typeof code === 'string' || typeof code === 'number' ? { code } : {}),
    ...(text('status') === undefined ? {} : { status: text('status') }),
    ...(record.metadata === undefined ? {} : { metadata: record.metadata }),
  };
}

/** An error delivered inside a 200 body or an SSE event (`{"error":{"code":429,…}}`). */
function bodyFailure(
  spec: CompatSpec,
  error: unknown,
  rateLimits: RateLimitSnapshot | undefined,
  redact: (text: string) => string,
): ProviderError {
  const body = errorBodyOf({ error });
  return failureFromBody(
    spec,
    body,
    typeof body.code === 'number' ? body.code : undefined,
    undefined,
    rateLimits,
    redact,
  );
}

function failureFromBody(
  spec: CompatSpec,
  body: ErrorBody,
  status: number | undefined,
  retryAfterMs: number | undefined,
  rateLimits: RateLimitSnapshot | undefined,
  redact: (text: string) => string,
  cause?: unknown,
): ProviderError {
  const facts: FailureFacts = {
    provider: spec.provider,
    status,
    message: redact(body.message ?? 'no message'),
    codes: [body.code, body.type, body.status],
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    ...(rateLimits === undefined ? {} : { rateLimits }),
    ...(cause === undefined ? {} : { cause }),
  };
  return classifyFailure(spec.refineFailure?.(facts, body) ?? facts);
}

interface SdkApiError {
  readonly status?: number;
  readonly headers?: HeaderSource;
  readonly error?: unknown;
  readonly message: string;
}

function isSdkApiError(error: unknown): error is SdkApiError & Error {
  return error instanceof Error && 'status' in error && 'headers' in error && 'error' in error;
}

/** Maps anything the SDK threw (or our own abort) to the taxonomy. */
function toProviderError(
  spec: CompatSpec,
  error: unknown,
  apiKey: string,
  control: AttemptControl,
  request: ChatRequest,
  now: () => number,
): ProviderError {
  if (error instanceof ProviderError) return error;
  const redact = redactor(apiKey);
  const aborted = abortedAttemptError(spec.provider, control, request, spec.options);
  if (aborted !== undefined) return aborted;
  if (isSdkApiError(error)) {
    const body = errorBodyOf(error.error);
    const rateLimits = spec.readRateLimits(error.headers, now());
    const retryAfterMs =
      parseFiniteNumber(readHeader(error.headers, 'retry-after-ms')) ??
      parseRetryAfterHeader(readHeader(error.headers, 'retry-after'), now());
    const status = error.status ?? (typeof body.code === 'number' ? body.code : undefined);
    const withMessage: ErrorBody = body.message === undefined ? { ...body, message: error.message } : body;
    return failureFromBody(spec, withMessage, status, retryAfterMs, rateLimits, redact, error);
  }
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  // Anything else (a connection reset, a body that is not JSON) is the provider's transient fault.
  return transientFailure(spec.provider, redact(message));
}
