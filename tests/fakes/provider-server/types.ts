import type { IncomingHttpHeaders } from 'node:http';

/** A chat request as the fake server received it, whatever the wire format. */
export interface RecordedRequest {
  /** Which wire format answered it: the first path segment the server is mounted under. */
  readonly dialect: string;
  readonly method: string;
  /** Path after the dialect prefix, with query string. */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** The API key the client sent (Authorization bearer, x-goog-api-key …). */
  readonly apiKey: string | undefined;
  readonly model: string | undefined;
  readonly stream: boolean;
  /** Messages normalized to role + text, so tests can assert on history whatever the dialect. */
  readonly messages: readonly { readonly role: string; readonly content: string }[];
  readonly body: unknown;
  /** Media parts the request carried (images, audio, PDFs), in order; empty for text. */
  readonly media: readonly RecordedMedia[];
  /** What the request asks for: a chat answer, or the transcript of an uploaded audio file. */
  readonly operation: 'chat' | 'transcription';
  /** Index of this request among all the server received (0-based). */
  readonly index: number;
  /** `server.now()` when the request arrived (the fake clock in benchmarks, real time otherwise). */
  readonly receivedAt: number;
}

/** One media part as the fake received it (its bytes are checked, not kept). */
export interface RecordedMedia {
  readonly kind: 'image' | 'audio' | 'pdf' | 'other';
  readonly mimeType: string;
  /** Size of the decoded bytes. */
  readonly bytes: number;
  /** The first bytes, hex: enough to tell a JPEG (`ffd8ff`) or an OGG file (`4f676753`). */
  readonly head: string;
  /** The part was well formed (a base64 data URL, base64 inline data, a file upload with content). */
  readonly valid: boolean;
  /** The message it came with (0-based), for chat requests. */
  readonly message?: number;
}

export interface ReplyUsage {
  readonly inputTokens: number;
  readonly outputTokens: number;
}

/** What the fake should do with one request. */
export type Behaviour =
  | {
      readonly type: 'reply';
      /** Answer text; split into `chunks` when streaming (default: one chunk per word). */
      readonly text: string;
      readonly chunks?: readonly string[];
      /** `null` leaves usage out of the response entirely. */
      readonly usage?: ReplyUsage | null;
      /** Provider's own finish reason string; the dialect's "stop" when omitted. */
      readonly finishReason?: string;
      readonly model?: string;
      /** Delay before the response headers. */
      readonly delayMs?: number;
      /** Delay between stream chunks. */
      readonly chunkDelayMs?: number;
      readonly headers?: Readonly<Record<string, string>>;
    }
  | {
      /** An HTTP error with a JSON (object) or raw (string) body. */
      readonly type: 'error';
      readonly status: number;
      readonly body: unknown;
      readonly headers?: Readonly<Record<string, string>>;
      readonly delayMs?: number;
    }
  /** Accepts the request and never answers (until the server stops). */
  | { readonly type: 'hang' }
  /** Streams `afterChunks` chunks of `text`, then goes silent with the connection open. */
  | { readonly type: 'stall'; readonly text: string; readonly afterChunks: number }
  /** Streams `afterChunks` chunks of `text`, then destroys the connection. */
  | { readonly type: 'cut'; readonly text: string; readonly afterChunks: number }
  /** HTTP 200 with a body that is not what the wire format promises. */
  | { readonly type: 'garbage'; readonly body?: string; readonly contentType?: string }
  /**
   * An error inside a successful response: HTTP 200 whose JSON body is `body`, or, when the request
   * streams, an SSE event carrying `body` after `afterChunks` normal chunks (some providers do both).
   */
  | { readonly type: 'error-in-body'; readonly body: unknown; readonly text?: string; readonly afterChunks?: number }
  /** The provider's own way of refusing for safety (a blocked prompt or a SAFETY finish). */
  | { readonly type: 'blocked' };

export type Handler = (request: RecordedRequest) => Behaviour | Promise<Behaviour>;

/** An OpenAI-style `audio/transcriptions` endpoint. */
export interface TranscriptionFormat {
  matches(method: string, path: string): boolean;
  /** The JSON answer: `{text}` and whatever the provider adds. */
  completion(reply: Extract<Behaviour, { type: 'reply' }>, request: RecordedRequest): unknown;
}

/** How the fake turns a behaviour into one provider's wire format. */
export interface WireFormat {
  /** The path prefix the dialect is mounted under: a provider's name, e.g. `name` → `http://127.0.0.1:port/name`. */
  readonly dialect: string;
  /**
   * The path under the prefix that the provider's base URL includes (the path part of its default
   * base URL, e.g. `/api/v1`); `''` when none.
   */
  readonly basePath?: string;
  /** Whether `path` (after the prefix, without query) is this dialect's chat endpoint. */
  matches(method: string, path: string): boolean;
  /** Pulls key, model, stream flag, messages and media parts out of the request. */
  describe(
    path: string,
    query: URLSearchParams,
    headers: IncomingHttpHeaders,
    body: unknown,
  ): Pick<RecordedRequest, 'apiKey' | 'model' | 'stream' | 'messages'> & { readonly media?: readonly RecordedMedia[] };
  /**
   * Which kinds of media a model takes (`allWireFormats` sets it from the registry's capabilities);
   * every kind when unset.
   */
  readonly modelTakes?: (model: string | undefined, kind: RecordedMedia['kind']) => boolean;
  /** The provider's refusal of a request with a part the model cannot take or that is malformed. */
  unsupportedInput?(request: RecordedRequest, media: RecordedMedia): Behaviour;
  /** Speech to text (multipart upload of `file` and `model`), for formats that have it. */
  readonly transcription?: TranscriptionFormat;
  /** The JSON body of a non-streamed answer. */
  completion(reply: Extract<Behaviour, { type: 'reply' }>, request: RecordedRequest): unknown;
  /** The SSE `data:` payloads of a streamed answer, in order (strings are sent as they are). */
  streamEvents(
    reply: Extract<Behaviour, { type: 'reply' }>,
    request: RecordedRequest,
    chunks: readonly string[],
  ): readonly (unknown | string)[];
  /** The SSE `data:` payloads of only the text chunks (for stall / cut). */
  textEvents(request: RecordedRequest, chunks: readonly string[]): readonly unknown[];
  /** The provider's answer to a request it refuses for safety: an HTTP status and body. */
  blocked(request: RecordedRequest): { readonly status: number; readonly body: unknown };
}
