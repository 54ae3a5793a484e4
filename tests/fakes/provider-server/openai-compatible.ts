import type { IncomingHttpHeaders } from 'node:http';
import { dataUrlMedia } from './media';
import type { Behaviour, RecordedMedia, RecordedRequest, WireFormat } from './types';

type Reply = Extract<Behaviour, { type: 'reply' }>;

export interface OpenAiDialectOptions {
  readonly dialect: string;
  /**
   * Chat completions path after the dialect prefix, e.g. `/openai/v1/chat/completions`; any path
   * ending in `/chat/completions` when omitted.
   */
  readonly path?: string;
  /**
   * Where a stream reports usage: in a final chunk with empty choices when the client asked
   * (`stream_options.include_usage`), always in the last chunk, or in an extra object of the
   * provider's own (`x_<provider>.usage`), named by `usageExtension`.
   */
  readonly streamUsage: 'when-asked' | 'last-chunk' | 'extension';
  /** The name of that extra object (`x_…`), for `streamUsage: 'extension'`. */
  readonly usageExtension?: string;
  /**
   * The path of its speech-to-text endpoint (`audio/transcriptions`, multipart), when it has one;
   * `usageExtension`'s object is added to the answer as the provider adds it.
   */
  readonly transcriptionPath?: string;
}

function bearer(headers: IncomingHttpHeaders): string | undefined {
  const value = headers.authorization;
  return value?.startsWith('Bearer ') ? value.slice('Bearer '.length) : undefined;
}

interface OpenAiBody {
  readonly model?: string;
  readonly stream?: boolean;
  readonly stream_options?: { readonly include_usage?: boolean };
  readonly messages?: readonly { readonly role?: string; readonly content?: unknown }[];
}

function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content.map((part: { text?: unknown }) => (typeof part.text === 'string' ? part.text : '')).join('');
  }
  return '';
}

/** The `image_url` parts of the messages (data URLs; anything else is recorded as invalid). */
function mediaOf(messages: OpenAiBody['messages']): RecordedMedia[] {
  const media: RecordedMedia[] = [];
  for (const [index, message] of (messages ?? []).entries()) {
    if (!Array.isArray(message.content)) continue;
    for (const part of message.content as { type?: unknown; image_url?: { url?: unknown } }[]) {
      if (part.type === 'image_url') media.push(dataUrlMedia(part.image_url?.url, index));
      else if (part.type !== 'text')
        media.push({ kind: 'other', mimeType: String(part.type), bytes: 0, head: '', valid: false, message: index });
    }
  }
  return media;
}

function usageOf(reply: Reply): { prompt_tokens: number; completion_tokens: number; total_tokens: number } | undefined {
  if (reply.usage === null) return undefined;
  const usage = reply.usage ?? { inputTokens: 11, outputTokens: Math.max(1, reply.text.split(/\s+/).length) };
  return {
    prompt_tokens: usage.inputTokens,
    completion_tokens: usage.outputTokens,
    total_tokens: usage.inputTokens + usage.outputTokens,
  };
}

/** The OpenAI chat-completions wire format, as the OpenAI-compatible providers speak it. */
export function openAiCompatibleFormat(options: OpenAiDialectOptions): WireFormat {
  const extension = options.streamUsage === 'extension' ? options.usageExtension : undefined;
  if (options.streamUsage === 'extension' && extension === undefined) throw new Error('usageExtension is required');
  let counter = 0;
  const id = (): string => `chatcmpl-fake-${++counter}`;
  const created = 1_700_000_000;
  const modelOf = (reply: Reply | undefined, request: RecordedRequest): string =>
    reply?.model ?? request.model ?? 'fake-model';

  const chunk = (request: RecordedRequest, chunkId: string, delta: object, finishReason: string | null): object => ({
    id: chunkId,
    object: 'chat.completion.chunk',
    created,
    model: request.model ?? 'fake-model',
    choices: [{ index: 0, delta, finish_reason: finishReason, logprobs: null }],
  });

  return {
    dialect: options.dialect,
    matches: (method, path) =>
      method === 'POST' && (options.path === undefined ? path.endsWith('/chat/completions') : path === options.path),
    describe: (_path, _query, headers, body) => {
      const parsed = (body ?? {}) as OpenAiBody;
      return {
        apiKey: bearer(headers),
        model: parsed.model,
        stream: parsed.stream === true,
        messages: (parsed.messages ?? []).map((message) => ({
          role: message.role ?? '',
          content: contentText(message.content),
        })),
        media: mediaOf(parsed.messages),
      };
    },
    // What an OpenAI-compatible text model says to content parts it cannot take (one provider's words:
    // docs/providers.md), and to an image that is not a base64 data URL.
    unsupportedInput: (_request, media) => ({
      type: 'error',
      status: 400,
      body: {
        error: media.valid
          ? { message: `message[${media.message ?? 0}].content must be a string`, type: 'invalid_request_error' }
          : {
              message: `messages[${media.message ?? 0}]: invalid image: expected a base64 data URL`,
              type: 'invalid_request_error',
            },
      },
    }),
    ...(options.transcriptionPath === undefined
      ? {}
      : {
          transcription: {
            matches: (method: string, path: string) => method === 'POST' && path === options.transcriptionPath,
            completion: (reply: Reply) => ({
              text: reply.text,
              ...(extension === undefined ? {} : { [extension]: { id: 'req_fake' } }),
            }),
          },
        }),
    completion: (reply, request) => {
      const usage = usageOf(reply);
      return {
        id: id(),
        object: 'chat.completion',
        created,
        model: modelOf(reply, request),
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: reply.text },
            finish_reason: reply.finishReason ?? 'stop',
            logprobs: null,
          },
        ],
        ...(usage === undefined ? {} : { usage }),
        ...(extension === undefined ? {} : { [extension]: { id: 'req_fake' } }),
      };
    },
    textEvents: (request, chunks) => {
      const chunkId = id();
      return [
        chunk(request, chunkId, { role: 'assistant', content: '' }, null),
        ...chunks.map((text) => chunk(request, chunkId, { content: text }, null)),
      ];
    },
    streamEvents: (reply, request, chunks) => {
      const chunkId = id();
      const usage = usageOf(reply);
      const body = request.body as OpenAiBody;
      const events: (object | string)[] = [
        chunk(request, chunkId, { role: 'assistant', content: '' }, null),
        ...chunks.map((text) => chunk(request, chunkId, { content: text }, null)),
      ];
      const last = chunk(request, chunkId, {}, reply.finishReason ?? 'stop') as Record<string, unknown>;
      if (usage !== undefined && options.streamUsage === 'last-chunk') last.usage = usage;
      if (extension !== undefined) last[extension] = { id: 'req_fake', ...(usage === undefined ? {} : { usage }) };
      events.push(last);
      if (usage !== undefined && options.streamUsage === 'when-asked' && body.stream_options?.include_usage === true) {
        events.push({
          id: chunkId,
          object: 'chat.completion.chunk',
          created,
          model: modelOf(reply, request),
          choices: [],
          usage,
        });
      }
      events.push('[DONE]');
      return events;
    },
    blocked: () => ({
      status: 403,
      body: {
        error: { code: 403, message: 'Your input was flagged by moderation', metadata: { reasons: ['harassment'] } },
      },
    }),
  };
}
