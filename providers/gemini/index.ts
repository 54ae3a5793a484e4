/**
 * Google Gemini through @google/generative-ai 0.24.1 (deprecated upstream, but it runs on Node 20
 * and speaks the same REST API as its successor). Gemini is not OpenAI-style: its own roles
 * (`user` / `model`), a separate `systemInstruction`, google.rpc error details instead of
 * rate-limit headers. The shape of this module mirrors `shared/openai-compatible.ts`.
 *
 * SDK traps handled here (see docs/providers.md):
 * - its `timeout` request option starts a timer that is never cleared, so it is never used; the
 *   attempt's own AbortSignal goes in the per-call `{ signal }` instead;
 * - `startChat({history})` mutates the array it is given and `text()` throws on SAFETY, so this
 *   adapter builds its own `contents` for `generateContent` and reads the parts itself;
 * - `generateContentStream` also returns an aggregated `response` promise that rejects whenever
 *   the stream fails; nobody awaits it, so it gets a catch-all;
 * - its HTTP errors keep the status and `errorDetails` but drop the body's status string and all
 *   response headers (Gemini sends no rate-limit headers anyway).
 */
import {
  type Content,
  type GenerationConfig,
  GoogleGenerativeAI,
  GoogleGenerativeAIFetchError,
  GoogleGenerativeAIResponseError,
  type Part,
} from '@google/generative-ai';
import type { AttemptControl } from '../shared/attempt';
import {
  classifyFailure,
  type FailureFacts,
  malformedResponse,
  streamBrokeOff,
  transientFailure,
} from '../shared/classify';
import { parseDurationMs } from '../shared/durations';
import { audioToTranscribe, base64Of } from '../shared/media';
import { abortedAttemptError, runAttempt, streamAttempt } from '../shared/run-attempt';
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
  type StreamEvent,
  type Usage,
} from '../types';

const PROVIDER = 'gemini';
const API_VERSION = 'v1beta';

/** Gemini's 400 for an over-long prompt does not use the usual "context length" words. */
const CONTEXT_TOO_LONG = /input token count.*exceeds|exceeds the maximum number of tokens/i;

/** The parts of a Gemini response this adapter reads; everything is optional on the wire. */
interface GeminiPart {
  readonly text?: unknown;
  /** Thought summaries (only sent when asked for) are not part of the answer. */
  readonly thought?: unknown;
}

interface GeminiCandidate {
  readonly content?: { readonly parts?: readonly GeminiPart[] | null } | null;
  readonly finishReason?: string;
  readonly finishMessage?: string;
}

interface GeminiUsage {
  readonly promptTokenCount?: number;
  readonly candidatesTokenCount?: number;
  readonly thoughtsTokenCount?: number;
  readonly totalTokenCount?: number;
}

interface GeminiResponse {
  readonly candidates?: readonly GeminiCandidate[];
  readonly promptFeedback?: { readonly blockReason?: string; readonly blockReasonMessage?: string };
  readonly usageMetadata?: GeminiUsage;
  readonly modelVersion?: string;
  /** An error delivered inside a 200 body or an SSE event. */
  readonly error?: unknown;
}

/** A google.rpc detail object (`ErrorInfo`, `QuotaFailure`, `RetryInfo` …). */
interface GoogleErrorDetail {
  readonly '@type'?: unknown;
  readonly reason?: unknown;
  readonly retryDelay?: unknown;
  readonly violations?: unknown;
}

/** What the failure of one exchange said, before classification. */
interface GoogleFailure {
  readonly status: number | undefined;
  readonly message: string;
  readonly codes: readonly (string | undefined)[];
  readonly details: readonly unknown[];
  readonly cause?: unknown;
}

/** The prompt in Gemini's shape. */
export interface GeminiPrompt {
  readonly systemInstruction: string | undefined;
  readonly contents: Content[];
}

/**
 * Maps our messages to Gemini's: every system message goes into `systemInstruction` (joined by a
 * blank line), `assistant` becomes `model`, consecutive turns of one role are merged into one, and
 * empty messages are skipped (Gemini rejects empty text parts).
 *
 * Gemini wants the conversation to open with a `user` turn. Model turns before the first user turn
 * are dropped: they are what history trimming leaves of an older exchange, and inventing a user
 * turn to keep them would put words in the user's mouth. Fresh arrays every call, so nothing the
 * SDK does can touch the caller's history.
 */
export function toGeminiPrompt(messages: readonly ChatMessage[]): GeminiPrompt {
  const system: string[] = [];
  const turns: { role: 'user' | 'model'; texts: string[]; media: Part[] }[] = [];
  for (const message of messages) {
    // Media goes inline, after the turn's text (images, audio and PDFs alike).
    const media: Part[] = (message.media ?? []).map((part) => ({
      inlineData: { mimeType: part.mimeType, data: base64Of(part) },
    }));
    if (message.content === '' && media.length === 0) continue;
    if (message.role === 'system') {
      system.push(message.content);
      continue;
    }
    const role = message.role === 'assistant' ? 'model' : 'user';
    const texts = message.content === '' ? [] : [message.content];
    const last = turns.at(-1);
    if (last?.role === role) {
      last.texts.push(...texts);
      last.media.push(...media);
    } else if (turns.length > 0 || role === 'user') turns.push({ role, texts, media });
  }
  return {
    systemInstruction: system.length === 0 ? undefined : system.join('\n\n'),
    contents: turns.map((turn) => ({
      role: turn.role,
      parts: [...(turn.texts.length === 0 ? [] : [{ text: turn.texts.join('\n\n') }]), ...turn.media],
    })),
  };
}

/** What Gemini is told to do with a voice note when it transcribes one. */
export const TRANSCRIBE_INSTRUCTION =
  'Transcribe this audio exactly as spoken, in its own language. Answer with the transcript only: no ' +
  'translation, no comments, no quotation marks. If nothing is said, answer with nothing.';

export function normalizeGeminiFinishReason(raw: string | undefined): FinishReason {
  switch (raw) {
    case 'STOP':
      return 'stop';
    case 'MAX_TOKENS':
      return 'length';
    case 'SAFETY':
    case 'RECITATION':
    case 'BLOCKLIST':
    case 'PROHIBITED_CONTENT':
    case 'SPII':
    case 'IMAGE_SAFETY':
      return 'content_filter';
    default:
      return 'other';
  }
}

/** `QuotaFailure.violations[].quotaId` names the window: `…PerDay…` or `…PerMinute…`. */
export function quotaPeriodOf(details: readonly unknown[]): FailureFacts['quotaPeriod'] {
  const quotaIds = details.flatMap((detail) => {
    const violations = (detail as GoogleErrorDetail | null)?.violations;
    if (!Array.isArray(violations)) return [];
    return violations.map((violation: { quotaId?: unknown } | null) =>
      typeof violation?.quotaId === 'string' ? violation.quotaId : '',
    );
  });
  if (quotaIds.some((id) => /PerDay/i.test(id))) return 'day';
  if (quotaIds.some((id) => /PerMinute/i.test(id))) return 'minute';
  return undefined;
}

/** `RetryInfo.retryDelay` is a protobuf Duration in JSON: `"38s"`, `"38.2s"`. */
export function retryDelayOf(details: readonly unknown[]): number | undefined {
  for (const detail of details) {
    const delay = (detail as GoogleErrorDetail | null)?.retryDelay;
    if (typeof delay === 'string') return parseDurationMs(delay);
  }
  return undefined;
}

function createGeminiAdapter(options: AdapterOptions): ProviderAdapter {
  const requestOptions = { baseUrl: options.baseUrl.replace(/\/+$/, ''), apiVersion: API_VERSION };

  /** One SDK model object per call: the model, system prompt and generation config vary per request. */
  const prepare = (request: ChatRequest, apiKey: string) => {
    const model = request.model ?? options.model;
    const { systemInstruction, contents } = toGeminiPrompt(request.messages);
    if (!contents.some((content) => content.role === 'user')) {
      throw classifyFailure({
        provider: PROVIDER,
        status: undefined,
        message: 'the request has no user message to send',
        kind: 'bad_request',
      });
    }
    const generationConfig: GenerationConfig = {
      ...(request.maxOutputTokens === undefined ? {} : { maxOutputTokens: request.maxOutputTokens }),
      ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
      ...(request.json === true ? { responseMimeType: 'application/json' } : {}),
    };
    const client = new GoogleGenerativeAI(apiKey).getGenerativeModel(
      { model, generationConfig, ...(systemInstruction === undefined ? {} : { systemInstruction }) },
      requestOptions,
    );
    return { model, client, contents };
  };

  const toError = (error: unknown, apiKey: string, control: AttemptControl, request: ChatRequest): ProviderError =>
    toProviderError(error, apiKey, control, request, options);

  const adapter: ProviderAdapter = {
    name: PROVIDER,
    model: options.model,

    async complete(request, apiKey) {
      return runAttempt(request, options, async (control) => {
        const started = performance.now();
        try {
          const { model, client, contents } = prepare(request, apiKey);
          const { response } = await Promise.race([
            client.generateContent({ contents }, { signal: control.signal }),
            control.whenAborted(),
          ]);
          const answer: GeminiResponse = response;
          refuseBadResponse(answer, apiKey);
          const candidate = answer.candidates?.[0];
          if (candidate === undefined) throw malformedResponse(PROVIDER, 'the answer has no candidates');
          if (candidate.content == null && candidate.finishReason === undefined) {
            throw malformedResponse(PROVIDER, 'the candidate has neither content nor a finish reason');
          }
          const text = textOf(candidate);
          if (text === '') refuseFilteredFinish(candidate.finishReason, candidate.finishMessage, apiKey);
          return {
            text,
            finishReason: normalizeGeminiFinishReason(candidate.finishReason),
            rawFinishReason: candidate.finishReason,
            usage: toUsage(answer.usageMetadata),
            model: typeof answer.modelVersion === 'string' ? answer.modelVersion : model,
            latencyMs: performance.now() - started,
            rateLimits: undefined,
          } satisfies ChatResult;
        } catch (error) {
          throw toError(error, apiKey, control, request);
        }
      });
    },

    stream(request, apiKey) {
      return streamAttempt(request, options, async function* (control, idle) {
        const started = performance.now();
        let firstTokenAt: number | undefined;
        let finishReason: string | undefined;
        let finishMessage: string | undefined;
        let usage: GeminiUsage | undefined;
        let model = request.model ?? options.model;
        try {
          const prepared = prepare(request, apiKey);
          const result = await Promise.race([
            prepared.client.generateContentStream({ contents: prepared.contents }, { signal: control.signal }),
            control.whenAborted(),
          ]);
          // The SDK's aggregated answer rejects whenever the stream fails; nobody awaits it.
          result.response.catch(() => undefined);
          for await (const raw of idle(result.stream)) {
            const chunk: GeminiResponse = raw;
            if (typeof chunk !== 'object' || chunk === null)
              throw malformedResponse(PROVIDER, 'a stream event is not a JSON object');
            refuseBadResponse(chunk, apiKey);
            if (typeof chunk.modelVersion === 'string') model = chunk.modelVersion;
            usage = chunk.usageMetadata ?? usage;
            const candidate = chunk.candidates?.[0];
            if (candidate?.finishReason !== undefined) {
              finishReason = candidate.finishReason;
              finishMessage = candidate.finishMessage;
            }
            const text = candidate === undefined ? '' : textOf(candidate);
            if (text !== '') {
              firstTokenAt ??= performance.now();
              yield { type: 'text-delta', text } satisfies StreamEvent;
            }
          }
          if (finishReason === undefined) {
            throw streamBrokeOff(PROVIDER, 'a finish reason');
          }
          if (firstTokenAt === undefined) refuseFilteredFinish(finishReason, finishMessage, apiKey);
        } catch (error) {
          throw toError(error, apiKey, control, request);
        }
        yield {
          type: 'finish',
          finishReason: normalizeGeminiFinishReason(finishReason),
          rawFinishReason: finishReason,
          usage: toUsage(usage),
          model,
          timeToFirstTokenMs: firstTokenAt === undefined ? undefined : firstTokenAt - started,
          latencyMs: performance.now() - started,
          rateLimits: undefined,
        } satisfies StreamEvent;
      });
    },

    /** A transcription is a chat turn of its own: the audio inline, and the instruction to transcribe it. */
    async transcribe(request, apiKey) {
      const audio = audioToTranscribe(PROVIDER, request);
      return adapter
        .complete(
          {
            ...request,
            messages: [{ role: 'user', content: TRANSCRIBE_INSTRUCTION, media: [audio] }],
            temperature: 0,
            json: false,
          },
          apiKey,
        )
        .then((result) => ({ ...result, text: result.text.trim() }));
    },
  };
  return adapter;
}

function textOf(candidate: GeminiCandidate): string {
  const parts = candidate.content?.parts ?? [];
  return parts
    .filter((part) => part.thought !== true)
    .map((part) => (typeof part.text === 'string' ? part.text : ''))
    .join('');
}

function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/**
 * Thinking tokens are billed and rate-limited as output, so they count as output here. Zero
 * counts are left out of Gemini's JSON: a count that is absent from the whole object stays
 * `undefined`, but next to a present thoughts count a missing candidates count is the real 0.
 */
function toUsage(usage: GeminiUsage | undefined): Usage {
  const inputTokens = count(usage?.promptTokenCount);
  const candidates = count(usage?.candidatesTokenCount);
  const thoughts = count(usage?.thoughtsTokenCount);
  const outputTokens =
    candidates === undefined && thoughts === undefined ? undefined : (candidates ?? 0) + (thoughts ?? 0);
  const totalTokens =
    count(usage?.totalTokenCount) ??
    (inputTokens !== undefined && outputTokens !== undefined ? inputTokens + outputTokens : undefined);
  return { inputTokens, outputTokens, totalTokens };
}

function contentFiltered(message: string, apiKey: string): ProviderError {
  return classifyFailure({
    provider: PROVIDER,
    status: undefined,
    message: redactSecrets(message, [apiKey]),
    kind: 'content_filtered',
  });
}

/** Throws for an error object inside the body and for a prompt Gemini blocked (HTTP 200, no candidates). */
function refuseBadResponse(response: GeminiResponse, apiKey: string): void {
  if (response.error !== undefined) throw errorInBody(response.error, apiKey);
  const feedback = response.promptFeedback;
  if (typeof feedback?.blockReason === 'string') {
    const why = feedback.blockReasonMessage === undefined ? '' : `: ${feedback.blockReasonMessage}`;
    throw contentFiltered(`prompt blocked: ${feedback.blockReason}${why}`, apiKey);
  }
}

/** A candidate stopped for safety before any text: the user gets nothing, so it is a refusal. */
function refuseFilteredFinish(finishReason: string | undefined, finishMessage: string | undefined, apiKey: string) {
  if (normalizeGeminiFinishReason(finishReason) !== 'content_filter') return;
  const why = finishMessage === undefined ? '' : `: ${finishMessage}`;
  throw contentFiltered(`answer blocked: ${finishReason}${why}`, apiKey);
}

/** `{"error":{"code":503,"message":…,"status":"UNAVAILABLE","details":[…]}}` inside a 200 body or SSE event. */
function errorInBody(error: unknown, apiKey: string): ProviderError {
  const body = (typeof error === 'object' && error !== null ? error : { message: String(error) }) as {
    code?: unknown;
    message?: unknown;
    status?: unknown;
    details?: unknown;
  };
  return googleFailure(
    {
      status: typeof body.code === 'number' ? body.code : undefined,
      message: typeof body.message === 'string' ? body.message : 'no message',
      codes: [typeof body.status === 'string' ? body.status : undefined],
      details: Array.isArray(body.details) ? body.details : [],
    },
    apiKey,
  );
}

/** Classifies a Gemini error from its HTTP status, message and google.rpc details. */
function googleFailure(failure: GoogleFailure, apiKey: string): ProviderError {
  const reasons = failure.details.map((detail) => {
    const reason = (detail as GoogleErrorDetail | null)?.reason;
    return typeof reason === 'string' ? reason : undefined;
  });
  const quotaPeriod = quotaPeriodOf(failure.details);
  // A per-day 429 still carries a short RetryInfo delay ("21s"), but the quota only comes back at
  // the daily reset (midnight Pacific): leave the delay out so the router waits for the reset.
  const retryAfterMs = quotaPeriod === 'day' ? undefined : retryDelayOf(failure.details);
  let kind: ProviderErrorKind | undefined;
  // Gemini answers a blocked or suspended key with 403; an unknown key is a 400 (API_KEY_INVALID).
  if (failure.status === 401 || failure.status === 403) kind = 'auth';
  else if (failure.status === 400 && CONTEXT_TOO_LONG.test(failure.message)) kind = 'context_too_long';
  return classifyFailure({
    provider: PROVIDER,
    status: failure.status,
    message: redactSecrets(failure.message, [apiKey]),
    codes: [...failure.codes, ...reasons],
    ...(quotaPeriod === undefined ? {} : { quotaPeriod }),
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    ...(kind === undefined ? {} : { kind }),
    ...(failure.cause === undefined ? {} : { cause: failure.cause }),
  });
}

/**
 * The SDK's message is `[GoogleGenerativeAI Error]: Error fetching from <url>: [429 Too Many
 * Requests] <message> <details as JSON>`; keep only Google's own message.
 */
function fetchErrorMessage(error: GoogleGenerativeAIFetchError): string {
  const marker = `[${error.status} ${error.statusText}] `;
  const at = error.message.indexOf(marker);
  let message = at === -1 ? error.message : error.message.slice(at + marker.length);
  if (error.errorDetails !== undefined) {
    const suffix = ` ${JSON.stringify(error.errorDetails)}`;
    if (message.endsWith(suffix)) message = message.slice(0, -suffix.length);
  }
  return message.trim() === '' ? (error.statusText ?? 'no message') : message;
}

/** The SDK error as the cause, unless its message echoes the key (a suspended key's 403 does). */
function safeCause(error: Error, apiKey: string): Error {
  if (!error.message.includes(apiKey)) return error;
  const copy = new Error(redactSecrets(error.message, [apiKey]));
  copy.name = error.name;
  return copy;
}

/** Maps anything the SDK threw (or our own abort) to the taxonomy. */
function toProviderError(
  error: unknown,
  apiKey: string,
  control: AttemptControl,
  request: ChatRequest,
  options: AdapterOptions,
): ProviderError {
  if (isProviderError(error)) return error;
  const aborted = abortedAttemptError(PROVIDER, control, request, options);
  if (aborted !== undefined) return aborted;
  if (error instanceof GoogleGenerativeAIFetchError) {
    return googleFailure(
      {
        status: error.status,
        message: fetchErrorMessage(error),
        codes: [error.statusText],
        details: error.errorDetails ?? [],
        cause: safeCause(error, apiKey),
      },
      apiKey,
    );
  }
  if (error instanceof GoogleGenerativeAIResponseError) {
    return classifyFailure({
      provider: PROVIDER,
      status: undefined,
      message: redactSecrets(error.message, [apiKey]),
      kind: 'content_filtered',
      cause: safeCause(error, apiKey),
    });
  }
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  // Anything else (a connection reset, a body that is not JSON, a broken SSE stream) is the
  // provider's transient fault.
  return transientFailure(PROVIDER, redactSecrets(message, [apiKey]));
}

export const geminiProvider: ProviderDescriptor = {
  name: PROVIDER,
  envPrefix: 'GEMINI',
  defaultBaseUrl: 'https://generativelanguage.googleapis.com',
  wireFormat: 'gemini',
  // Of the free tiers in docs/providers.md, 3.1 Flash-Lite allows 500 requests a day; 2.5 Flash and
  // 2.5 Flash-Lite allow 20. Limits are per project and per model: override with GEMINI_MODEL.
  defaultModel: 'gemini-3.1-flash-lite',
  contextWindowTokens: 1_048_576,
  defaultLimits: { requestsPerMinute: 15, requestsPerDay: 500, tokensPerMinute: 250_000 },
  dailyResetZone: 'America/Los_Angeles',
  // Its chat model takes images, audio and PDFs inline, and transcribes audio when asked to
  // (docs/providers.md, "Media models"); GEMINI_VISION_MODEL / GEMINI_TRANSCRIPTION_MODEL may name
  // another model for a role.
  chatCapabilities: { operations: ['chat', 'transcription'], inputs: ['text', 'image', 'audio', 'pdf'] },
  roles: {
    vision: { operations: ['chat'], inputs: ['text', 'image', 'pdf'] },
    transcription: { operations: ['transcription'], inputs: ['audio'] },
  },
  create: createGeminiAdapter,
};
