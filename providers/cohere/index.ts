/**
 * Cohere through the official cohere-ai SDK against the native v2 chat API (`POST {base}/v2/chat`).
 * Native rather than the OpenAI-compatibility endpoint because only the native stream reports usage
 * (its `message-end` event); the compatibility endpoint rejects `stream_options`.
 *
 * SDK facts this adapter relies on (cohere-ai 8.1.0 on Node 20):
 * - it retries 408/429/5xx twice by default, honouring `retry-after` up to 60 s: `maxRetries: 0`;
 * - answers and stream events come back camelCased (`finishReason`, `usage.billedUnits`) and are
 *   not validated, so every field is read defensively;
 * - a 200 whose body is not JSON resolves (!) with `{ok: false, error: {reason: 'non-json'}}` as data;
 * - errors are `CohereError` with `statusCode`, the parsed `body` and `rawResponse.headers`; a
 *   connection failure or its own timeout is a `CohereError` without `statusCode`;
 * - its timeout only covers the wait for response headers, and its timer is not cleared when the
 *   request is aborted: it is set to twice ours, as a backstop only.
 */
import { type Cohere, CohereClientV2, CohereError } from 'cohere-ai';
import type { AttemptControl } from '../shared/attempt';
import {
  classifyFailure,
  type FailureFacts,
  malformedResponse,
  streamBrokeOff,
  transientFailure,
} from '../shared/classify';
import { parseFiniteNumber, parseRetryAfterHeader } from '../shared/durations';
import { type HeaderSource, readHeader } from '../shared/headers';
import { abortedAttemptError, runAttempt, streamAttempt } from '../shared/run-attempt';
import { dataUrlOf, unsendable } from '../shared/media';
import { redactSecrets } from '../shared/secrets';
import {
  type AdapterOptions,
  type ChatMessage,
  type ChatRequest,
  type ChatResult,
  type FinishReason,
  isProviderError,
  type ProviderAdapter,
  type ProviderDescriptor,
  type ProviderError,
  type ProviderErrorKind,
  type RateLimitSnapshot,
  type StreamEvent,
  type Usage,
} from '../types';

const PROVIDER = 'cohere';

/** A usage block as the SDK hands it over (camelCased from `input_tokens` / `output_tokens`). */
interface CohereTokenCounts {
  readonly inputTokens?: number | null;
  readonly outputTokens?: number | null;
}

interface CohereUsage {
  /** What is billed: the caller's own tokens, without the chat template Cohere wraps them in. */
  readonly billedUnits?: CohereTokenCounts | null;
  /** What the model processed, template included. */
  readonly tokens?: CohereTokenCounts | null;
}

interface CohereAnswer {
  readonly finishReason?: string | null;
  readonly message?: { readonly content?: unknown } | null;
  readonly usage?: CohereUsage | null;
}

interface CohereStreamEvent {
  readonly type?: string;
  readonly delta?: {
    readonly message?: { readonly content?: { readonly text?: string | null } | null } | null;
    readonly finishReason?: string | null;
    readonly usage?: CohereUsage | null;
  } | null;
}

/**
 * Cohere documents no rate-limit headers, but answers to trial keys carry
 * `x-trial-endpoint-call-limit` / `-remaining` (the per-endpoint trial window: 20 for chat, the
 * documented per-minute limit, though the headers do not name the window) and
 * `x-endpoint-monthly-call-limit` (the monthly cap, with no remaining count, so nothing to track).
 * 429 answers carry none of them.
 */
export function readCohereRateLimits(headers: HeaderSource): RateLimitSnapshot | undefined {
  const limit = parseFiniteNumber(readHeader(headers, 'x-trial-endpoint-call-limit'));
  const remaining = parseFiniteNumber(readHeader(headers, 'x-trial-endpoint-call-remaining'));
  if (limit === undefined && remaining === undefined) return undefined;
  return { requests: { limit, remaining } };
}

export function normalizeCohereFinishReason(raw: string | null | undefined): FinishReason {
  switch (raw) {
    case 'COMPLETE':
    case 'STOP_SEQUENCE':
      return 'stop';
    case 'MAX_TOKENS':
      return 'length';
    case 'ERROR_TOXIC': // v1's name for a blocked generation; v2 documents no such reason but may say it
      return 'content_filter';
    case 'TOOL_CALL':
      return 'tool_calls';
    default:
      return 'other';
  }
}

/**
 * Prefers `tokens` over `billed_units`: `tokens` counts what the model actually processed (the
 * chat template included), which is what fills the context window and what a token budget should
 * track; `billed_units` leaves the template out and undercounts input. Billed units only stand in
 * when `tokens` is missing altogether.
 */
function toUsage(usage: CohereUsage | null | undefined): Usage {
  const counts = usage?.tokens ?? usage?.billedUnits ?? undefined;
  const inputTokens = counts?.inputTokens ?? undefined;
  const outputTokens = counts?.outputTokens ?? undefined;
  const totalTokens = inputTokens !== undefined && outputTokens !== undefined ? inputTokens + outputTokens : undefined;
  return { inputTokens, outputTokens, totalTokens };
}

/** The text of an assistant message: a string, or the `text` parts of a content list (skipping `thinking`). */
function answerText(content: unknown): string | undefined {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return undefined;
  return content
    .map((part: unknown) => {
      const { type, text } = (part ?? {}) as { type?: unknown; text?: unknown };
      return type === 'text' && typeof text === 'string' ? text : '';
    })
    .join('');
}

function isNonJsonBody(data: unknown): boolean {
  const error = (data as { ok?: unknown; error?: { reason?: unknown } } | null)?.error;
  return (data as { ok?: unknown } | null)?.ok === false && error?.reason === 'non-json';
}

function finish(raw: string | null | undefined): { finishReason: FinishReason; rawFinishReason: string | undefined } {
  return { finishReason: normalizeCohereFinishReason(raw), rawFinishReason: raw ?? undefined };
}

const MONTHLY = /\/\s*month|per month|monthly/i;
const PER_MINUTE = /\/\s*minute|per minute/i;
/** Cohere's refusals: "blocked input/output: … a potential violation of our Usage Guidelines". */
const BLOCKED = /blocked (input|output)|potential violation of our usage/i;

/**
 * Cohere's 429s name their window in words ("per minute request limit", "Trial key, which is
 * limited to 1000 API calls / month"); the trial wording would otherwise read as a long quota
 * whatever its window. A 402 (billing limit reached) leaves the key unusable like a spent quota.
 */
function refineFailure(facts: FailureFacts): FailureFacts {
  const quotaPeriod = MONTHLY.test(facts.message) ? 'month' : PER_MINUTE.test(facts.message) ? 'minute' : undefined;
  const status = facts.status;
  let kind: ProviderErrorKind | undefined;
  if (status === 402) kind = 'quota_exhausted';
  else if (status === 498 || (status !== undefined && status >= 400 && status < 500 && BLOCKED.test(facts.message)))
    kind = 'content_filtered';
  return {
    ...facts,
    ...(quotaPeriod === undefined ? {} : { quotaPeriod }),
    ...(kind === undefined ? {} : { kind }),
  };
}

/** The message of an error body: `{"message": "…"}`, or the raw text when the body was not JSON. */
function bodyMessage(body: unknown): string | undefined {
  if (typeof body === 'string') return body.trim() === '' ? undefined : body;
  const message = (body as { message?: unknown } | null | undefined)?.message;
  return typeof message === 'string' ? message : undefined;
}

function headersOf(error: CohereError): HeaderSource {
  return error.rawResponse?.headers as HeaderSource;
}

/** Maps anything the SDK threw (or our own abort) to the taxonomy, with the key redacted. */
function toProviderError(
  error: unknown,
  apiKey: string,
  control: AttemptControl,
  request: ChatRequest,
  options: AdapterOptions,
  now: () => number,
): ProviderError {
  if (isProviderError(error)) return error;
  const redact = (text: string): string => redactSecrets(text, [apiKey]);
  const aborted = abortedAttemptError(PROVIDER, control, request, options);
  if (aborted !== undefined) return aborted;
  if (error instanceof CohereError) {
    const status = error.statusCode;
    const headers = headersOf(error);
    const retryAfterMs = parseRetryAfterHeader(readHeader(headers, 'retry-after'), now());
    const rateLimits = readCohereRateLimits(headers);
    const message =
      bodyMessage(error.body) ?? (status === undefined ? `${error.name}: ${error.message}` : `HTTP ${status}`);
    return classifyFailure(
      refineFailure({
        provider: PROVIDER,
        status,
        message: redact(message),
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
        ...(rateLimits === undefined ? {} : { rateLimits }),
        cause: error,
      }),
    );
  }
  // Anything else (a connection cut mid-stream, an event that is not JSON) is the provider's transient fault.
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return transientFailure(PROVIDER, redact(message));
}

/** A user turn with images: its text first, then each image as a data URL (Command A Vision). */
function contentParts(message: ChatMessage): Cohere.Content[] {
  const parts: Cohere.Content[] = message.content === '' ? [] : [{ type: 'text', text: message.content }];
  for (const part of message.media ?? []) {
    if (part.kind !== 'image') throw unsendable(PROVIDER, part);
    parts.push({ type: 'image_url', imageUrl: { url: dataUrlOf(part) } });
  }
  return parts;
}

function createCohereAdapter(options: AdapterOptions): ProviderAdapter {
  const now = options.now ?? Date.now;
  const clients = new Map<string, CohereClientV2>();
  const clientFor = (apiKey: string): CohereClientV2 => {
    let client = clients.get(apiKey);
    if (client === undefined) {
      // The SDK joins `/v2/chat` to the base URL itself.
      client = new CohereClientV2({ token: apiKey, baseUrl: options.baseUrl, maxRetries: 0 });
      clients.set(apiKey, client);
    }
    return client;
  };

  const buildParams = (request: ChatRequest): Cohere.V2ChatRequest => ({
    model: request.model ?? options.model,
    messages: request.messages.map(
      (message): Cohere.ChatMessageV2 =>
        message.role === 'user' && message.media !== undefined && message.media.length > 0
          ? { role: 'user', content: contentParts(message) }
          : { role: message.role, content: message.content },
    ),
    ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
    ...(request.maxOutputTokens === undefined ? {} : { maxTokens: request.maxOutputTokens }),
    ...(request.json === true ? { responseFormat: { type: 'json_object' as const } } : {}),
  });

  // Retries off (the router owns them); the SDK timeout is a backstop behind our own timers.
  const requestOptions = (request: ChatRequest, control: AttemptControl) => ({
    maxRetries: 0,
    timeoutInSeconds: (2 * (request.timeoutMs ?? options.timeoutMs)) / 1000,
    abortSignal: control.signal,
  });

  return {
    name: PROVIDER,
    model: options.model,

    async complete(request, apiKey) {
      const params = buildParams(request);
      return runAttempt(request, options, async (control) => {
        const started = performance.now();
        try {
          const { data, rawResponse } = await Promise.race([
            clientFor(apiKey).chat(params, requestOptions(request, control)).withRawResponse(),
            control.whenAborted(),
          ]);
          const rateLimits = readCohereRateLimits(rawResponse.headers as HeaderSource);
          if (isNonJsonBody(data)) throw malformedResponse(PROVIDER, 'the body is not JSON', rateLimits);
          const answer = (typeof data === 'object' && data !== null ? data : {}) as CohereAnswer;
          const text = answerText(answer.message?.content);
          if (text === undefined) throw malformedResponse(PROVIDER, 'the answer has no message content', rateLimits);
          if (typeof answer.finishReason !== 'string')
            throw malformedResponse(PROVIDER, 'the answer has no finish reason', rateLimits);
          return {
            text,
            ...finish(answer.finishReason),
            usage: toUsage(answer.usage),
            // Cohere's answers do not name the model.
            model: params.model,
            latencyMs: performance.now() - started,
            rateLimits,
          } satisfies ChatResult;
        } catch (error) {
          throw toProviderError(error, apiKey, control, request, options, now);
        }
      });
    },

    stream(request, apiKey) {
      const params = buildParams(request);
      return streamAttempt(request, options, async function* (control, idle) {
        const started = performance.now();
        let firstTokenAt: number | undefined;
        let ended = false;
        let finishReason: string | undefined;
        let usage: CohereUsage | null | undefined;
        let rateLimits: RateLimitSnapshot | undefined;
        try {
          const { data, rawResponse } = await Promise.race([
            clientFor(apiKey).chatStream(params, requestOptions(request, control)).withRawResponse(),
            control.whenAborted(),
          ]);
          rateLimits = readCohereRateLimits(rawResponse.headers as HeaderSource);
          for await (const raw of idle<unknown>(data)) {
            if (typeof raw !== 'object' || raw === null)
              throw malformedResponse(PROVIDER, 'a stream event is not an object', rateLimits);
            const event = raw as CohereStreamEvent;
            if (event.type === 'content-delta') {
              const text = event.delta?.message?.content?.text;
              if (typeof text === 'string' && text !== '') {
                firstTokenAt ??= performance.now();
                yield { type: 'text-delta', text } satisfies StreamEvent;
              }
            } else if (event.type === 'message-end') {
              ended = true;
              finishReason = event.delta?.finishReason ?? undefined;
              usage = event.delta?.usage;
            }
          }
        } catch (error) {
          throw toProviderError(error, apiKey, control, request, options, now);
        }
        if (!ended) {
          throw streamBrokeOff(PROVIDER, 'a message-end event', rateLimits);
        }
        yield {
          type: 'finish',
          ...finish(finishReason),
          usage: toUsage(usage),
          model: params.model,
          timeToFirstTokenMs: firstTokenAt === undefined ? undefined : firstTokenAt - started,
          latencyMs: performance.now() - started,
          rateLimits,
        } satisfies StreamEvent;
      });
    },
  };
}

export const cohereProvider: ProviderDescriptor = {
  name: PROVIDER,
  envPrefix: 'COHERE',
  defaultBaseUrl: 'https://api.cohere.com',
  wireFormat: 'cohere',
  defaultModel: 'command-a-03-2025',
  contextWindowTokens: 256_000,
  // Trial key (docs/providers.md): 20 chat calls a minute and 1,000 calls a MONTH, counted per
  // calendar month in UTC (Cohere does not say on which day it resets). A monthly 429 is
  // quota_exhausted until the next month. Override with COHERE_RPM / COHERE_REQUESTS_PER_MONTH, or
  // spread the month over days with COHERE_RPD.
  defaultLimits: { requestsPerMinute: 20, requestsPerMonth: 1000 },
  dailyResetZone: 'UTC',
  // Command A Vision on the same v2 chat API; its calls count toward the trial's 1,000 a month
  // (docs/providers.md, "Media models"). Override with COHERE_VISION_MODEL.
  roles: {
    vision: {
      defaultModel: 'command-a-vision-07-2025',
      operations: ['chat'],
      inputs: ['text', 'image'],
      contextWindowTokens: 128_000,
      sharedQuota: true,
    },
  },
  create: createCohereAdapter,
};
