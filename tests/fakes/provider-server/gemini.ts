import type { IncomingHttpHeaders } from 'node:http';
import { base64Media } from './media';
import type { Behaviour, RecordedMedia, RecordedRequest, WireFormat } from './types';

type Reply = Extract<Behaviour, { type: 'reply' }>;

/**
 * The Gemini REST API (v1beta) as @google/generative-ai speaks it:
 * `POST /v1beta/models/{model}:generateContent` and `…:streamGenerateContent?alt=sse`, the key in
 * `x-goog-api-key` (or `?key=`), SSE events that are each a whole `GenerateContentResponse` and
 * no `[DONE]`. Field names and shapes follow real responses; proto3 JSON leaves zero counts out.
 */

const CHAT_PATH = /^\/v1beta\/models\/([^/:]+):(generateContent|streamGenerateContent)$/;

interface GeminiPart {
  readonly text?: unknown;
  /** The SDK sends camelCase; the REST API also takes `inline_data` / `mime_type`. */
  readonly inlineData?: { readonly mimeType?: unknown; readonly data?: unknown };
  readonly inline_data?: { readonly mime_type?: unknown; readonly data?: unknown };
}

interface GeminiContent {
  readonly role?: string;
  readonly parts?: readonly GeminiPart[];
}

interface GeminiBody {
  readonly contents?: readonly GeminiContent[];
  readonly systemInstruction?: GeminiContent;
}

function partsText(content: GeminiContent | undefined): string {
  return (content?.parts ?? []).map((part) => (typeof part.text === 'string' ? part.text : '')).join('');
}

function mediaOf(contents: readonly GeminiContent[] | undefined): RecordedMedia[] {
  const media: RecordedMedia[] = [];
  for (const [index, content] of (contents ?? []).entries()) {
    for (const part of content.parts ?? []) {
      const inline = part.inlineData ?? part.inline_data;
      if (inline === undefined) continue;
      const mimeType = 'mimeType' in inline ? inline.mimeType : (inline as { mime_type?: unknown }).mime_type;
      media.push(base64Media(typeof mimeType === 'string' ? mimeType : '', inline.data, index));
    }
  }
  return media;
}

function roleName(role: string | undefined): string {
  if (role === 'model') return 'assistant';
  return role ?? '';
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function usageMetadata(reply: Reply): object | undefined {
  if (reply.usage === null) return undefined;
  const usage = reply.usage ?? { inputTokens: 11, outputTokens: Math.max(1, reply.text.split(/\s+/).length) };
  return {
    promptTokenCount: usage.inputTokens,
    candidatesTokenCount: usage.outputTokens,
    totalTokenCount: usage.inputTokens + usage.outputTokens,
    promptTokensDetails: [{ modality: 'TEXT', tokenCount: usage.inputTokens }],
  };
}

/** What Gemini attaches to a candidate it stopped for safety. */
const BLOCKED_RATINGS = [
  { category: 'HARM_CATEGORY_SEXUALLY_EXPLICIT', probability: 'NEGLIGIBLE' },
  { category: 'HARM_CATEGORY_HATE_SPEECH', probability: 'NEGLIGIBLE' },
  { category: 'HARM_CATEGORY_HARASSMENT', probability: 'HIGH', blocked: true },
  { category: 'HARM_CATEGORY_DANGEROUS_CONTENT', probability: 'NEGLIGIBLE' },
];

export function geminiFormat(dialect: string): WireFormat {
  let counter = 0;
  const responseId = (): string => `fake-response-${++counter}`;
  const modelOf = (reply: Reply | undefined, request: RecordedRequest): string =>
    reply?.model ?? request.model ?? 'fake-model';

  const candidate = (text: string | undefined, finishReason: string | undefined): object => ({
    // A candidate stopped before any text (SAFETY) has no content at all.
    ...(text === undefined || text === '' ? {} : { content: { parts: [{ text }], role: 'model' } }),
    ...(finishReason === undefined ? {} : { finishReason }),
    ...(finishReason === 'SAFETY' ? { safetyRatings: BLOCKED_RATINGS } : {}),
    index: 0,
  });

  return {
    dialect,
    matches: (method, path) => method === 'POST' && CHAT_PATH.test(path),
    describe: (path, query, headers, body) => {
      const match = CHAT_PATH.exec(path);
      const parsed = (body ?? {}) as GeminiBody;
      const system = parsed.systemInstruction === undefined ? [] : [partsText(parsed.systemInstruction)];
      return {
        apiKey: headerValue(headers, 'x-goog-api-key') ?? query.get('key') ?? undefined,
        model: match?.[1],
        // Without `alt=sse` the real API streams one JSON array; the fake only speaks SSE.
        stream: match?.[2] === 'streamGenerateContent',
        messages: [
          ...system.map((content) => ({ role: 'system', content })),
          ...(parsed.contents ?? []).map((content) => ({ role: roleName(content.role), content: partsText(content) })),
        ],
        media: mediaOf(parsed.contents),
      };
    },
    // Gemini's 400s for inline data it cannot use (REST error shape; wording not verified).
    unsupportedInput: (_request, media) => ({
      type: 'error',
      status: 400,
      body: {
        error: {
          code: 400,
          status: 'INVALID_ARGUMENT',
          message: media.valid
            ? `Unsupported MIME type: ${media.mimeType}`
            : `Invalid value at 'contents[${media.message ?? 0}].parts' (TYPE_BYTES), Base64 decoding failed`,
        },
      },
    }),
    completion: (reply, request) => ({
      candidates: [candidate(reply.text, reply.finishReason ?? 'STOP')],
      ...optional('usageMetadata', usageMetadata(reply)),
      modelVersion: modelOf(reply, request),
      responseId: responseId(),
    }),
    textEvents: (request, chunks) => {
      const id = responseId();
      return chunks.map((text) => ({
        candidates: [candidate(text, undefined)],
        modelVersion: modelOf(undefined, request),
        responseId: id,
      }));
    },
    streamEvents: (reply, request, chunks) => {
      const id = responseId();
      const usage = usageMetadata(reply) as { promptTokenCount: number } | undefined;
      const model = modelOf(reply, request);
      const finishReason = reply.finishReason ?? 'STOP';
      // Like the real API: every event carries the prompt count, the last one (which also carries
      // the last text) the finish reason and the full usage.
      const partialUsage =
        usage === undefined
          ? {}
          : { usageMetadata: { promptTokenCount: usage.promptTokenCount, totalTokenCount: usage.promptTokenCount } };
      const texts = chunks.length === 0 ? [undefined] : chunks;
      return texts.map((text, index) => {
        const last = index === texts.length - 1;
        return {
          candidates: [candidate(text, last ? finishReason : undefined)],
          ...(last ? optional('usageMetadata', usage) : partialUsage),
          modelVersion: model,
          responseId: id,
        };
      });
    },
    blocked: (request) => ({
      status: 200,
      body: {
        promptFeedback: {
          blockReason: 'SAFETY',
          safetyRatings: BLOCKED_RATINGS,
        },
        usageMetadata: { promptTokenCount: 9, totalTokenCount: 9 },
        modelVersion: modelOf(undefined, request),
        responseId: responseId(),
      },
    }),
  };
}

function optional(key: string, value: object | undefined): Record<string, object> {
  return value === undefined ? {} : { [key]: value };
}
