import type { IncomingHttpHeaders } from 'node:http';
import { dataUrlMedia } from './media';
import type { Behaviour, RecordedMedia, RecordedRequest, WireFormat } from './types';

type Reply = Extract<Behaviour, { type: 'reply' }>;

/**
 * Cohere's native v2 chat (`POST /v2/chat`), as the API and the cohere-ai SDK's own wire tests show
 * it: a JSON answer with `finish_reason` and two usage blocks, or typed SSE events sent as
 * `event: <type>` + `data: {"type": <type>, …}` frames (message-start, content-start,
 * content-delta…, content-end, message-end) with no `[DONE]` terminator.
 */

/**
 * Tokens of the chat template Cohere wraps around the caller's messages: counted in `tokens` but
 * not billed, so `billed_units.input_tokens` is smaller than `tokens.input_tokens` (the SDK's own
 * fixture: 71 tokens, 5 billed).
 */
export const COHERE_TEMPLATE_TOKENS = 66;

interface CohereBody {
  readonly model?: string;
  readonly stream?: boolean;
  readonly messages?: readonly { readonly role?: string; readonly content?: unknown }[];
}

interface CohereUsage {
  readonly billed_units: { readonly input_tokens: number; readonly output_tokens: number };
  readonly tokens: { readonly input_tokens: number; readonly output_tokens: number };
}

function bearer(headers: IncomingHttpHeaders): string | undefined {
  const value = headers.authorization;
  return value?.startsWith('Bearer ') ? value.slice('Bearer '.length) : undefined;
}

/** v2 message content is a string or a list of parts (`{type: 'text', text}`). */
function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((part: { type?: unknown; text?: unknown }) =>
        part.type === 'text' && typeof part.text === 'string' ? part.text : '',
      )
      .join('');
  }
  return '';
}

/** v2 `image_url` parts (`{type: 'image_url', image_url: {url}}`). */
function mediaOf(messages: CohereBody['messages']): RecordedMedia[] {
  const media: RecordedMedia[] = [];
  for (const [index, message] of (messages ?? []).entries()) {
    if (!Array.isArray(message.content)) continue;
    for (const part of message.content as { type?: unknown; image_url?: { url?: unknown } }[]) {
      if (part.type === 'image_url') media.push(dataUrlMedia(part.image_url?.url, index));
    }
  }
  return media;
}

function usageOf(reply: Reply): CohereUsage | undefined {
  if (reply.usage === null) return undefined;
  const usage = reply.usage ?? { inputTokens: 11, outputTokens: Math.max(1, reply.text.split(/\s+/).length) };
  return {
    billed_units: {
      input_tokens: Math.max(0, usage.inputTokens - COHERE_TEMPLATE_TOKENS),
      output_tokens: usage.outputTokens,
    },
    tokens: { input_tokens: usage.inputTokens, output_tokens: usage.outputTokens },
  };
}

/** One whole SSE frame; the fake server writes strings starting with `event:` verbatim. */
function frame(event: { readonly type: string } & Record<string, unknown>): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event)}`;
}

export function cohereFormat(dialect: string): WireFormat {
  let counter = 0;
  const id = (): string => `c0ffee00-0000-4000-8000-${String(++counter).padStart(12, '0')}`;

  const textFrames = (chunks: readonly string[]): string[] => [
    frame({
      id: id(),
      type: 'message-start',
      delta: { message: { role: 'assistant', content: [], tool_plan: '', tool_calls: [], citations: [] } },
    }),
    frame({ type: 'content-start', index: 0, delta: { message: { content: { type: 'text', text: '' } } } }),
    ...chunks.map((text) => frame({ type: 'content-delta', index: 0, delta: { message: { content: { text } } } })),
  ];

  return {
    dialect,
    matches: (method, path) => method === 'POST' && path === '/v2/chat',
    describe: (_path, _query, headers, body) => {
      const parsed = (body ?? {}) as CohereBody;
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
    // A 400 in Cohere's `{id, message}` shape (the exact wording for a text model is not verified).
    unsupportedInput: (request, media) => ({
      type: 'error',
      status: 400,
      body: {
        id: id(),
        message: media.valid
          ? `invalid request: model '${request.model ?? ''}' does not support image inputs`
          : 'invalid request: image_url must be a valid base64 data URL',
      },
    }),
    // Cohere does not name the model in its answers.
    completion: (reply) => {
      const usage = usageOf(reply);
      return {
        id: id(),
        message: { role: 'assistant', content: [{ type: 'text', text: reply.text }] },
        finish_reason: reply.finishReason ?? 'COMPLETE',
        ...(usage === undefined ? {} : { usage }),
      };
    },
    textEvents: (_request: RecordedRequest, chunks) => textFrames(chunks),
    streamEvents: (reply, _request, chunks) => {
      const usage = usageOf(reply);
      return [
        ...textFrames(chunks),
        frame({ type: 'content-end', index: 0 }),
        frame({
          type: 'message-end',
          delta: { finish_reason: reply.finishReason ?? 'COMPLETE', ...(usage === undefined ? {} : { usage }) },
        }),
      ];
    },
    // Cohere refuses unsafe prompts with a plain error message rather than a finish reason.
    blocked: () => ({
      status: 400,
      body: {
        id: id(),
        message:
          'blocked input: please adjust your prompt and try again, as it may be a potential violation of our Usage Guidelines (https://docs.cohere.com/docs/usage-policy).',
      },
    }),
  };
}
