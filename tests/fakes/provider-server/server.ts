import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { parseMultipart, uploadedMedia } from './media';
import type { Behaviour, Handler, RecordedMedia, RecordedRequest, WireFormat } from './types';

export interface FakeProviderServerOptions {
  readonly formats: readonly WireFormat[];
  /** Clock stamped on recorded requests; real time by default. */
  readonly now?: () => number;
  /**
   * How long an idle client connection stays open (1 s by default). Node's fetch reuses a
   * connection only when this exceeds its own 2 s margin, so load benchmarks raise it: real
   * providers keep connections alive.
   */
  readonly keepAliveTimeoutMs?: number;
  /** Keep every request in `requests` (default true); load benchmarks turn it off to save memory. */
  readonly recordRequests?: boolean;
}

const DEFAULT_HANDLER: Handler = (request) =>
  request.operation === 'transcription'
    ? { type: 'reply', text: `heard ${request.media[0]?.bytes ?? 0} bytes` }
    : { type: 'reply', text: `echo: ${request.messages.at(-1)?.content ?? ''}` };

/**
 * A local HTTP server that speaks the chat wire formats of the providers, so adapters can be tested
 * through their real SDKs. Every request is recorded; what it answers is decided by a handler that
 * each test scripts (a queue, a function of the key, a limit enforcer …).
 */
export class FakeProviderServer {
  readonly requests: RecordedRequest[] = [];
  /** Paths of `GET …/tcp_warming` calls (SDK connection warm-ups); answered, never in `requests`. */
  readonly warmUps: string[] = [];
  /** Indexes of requests whose connection closed before the answer was complete (a client that aborted, or a `cut`). */
  readonly abandoned: number[] = [];
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly formats: readonly WireFormat[];
  private readonly now: () => number;
  private readonly recordRequests: boolean;
  private received = 0;
  private handler: Handler = DEFAULT_HANDLER;
  private readonly queue: Behaviour[] = [];
  private baseUrl = '';

  constructor(options: FakeProviderServerOptions) {
    this.formats = options.formats;
    this.now = options.now ?? Date.now;
    this.recordRequests = options.recordRequests ?? true;
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`fake provider server failed: ${String(error)}`);
      });
    });
    this.server.keepAliveTimeout = options.keepAliveTimeoutMs ?? 1000;
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = this.server.address() as AddressInfo;
    this.baseUrl = `http://127.0.0.1:${port}`;
    return this;
  }

  /** Closes the server and every connection, including hanging ones. */
  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Root URL of a dialect (where it is mounted). */
  url(dialect: string): string {
    this.formatOf(dialect);
    return `${this.baseUrl}/${dialect}`;
  }

  /**
   * The provider's base URL on this server, to configure it with: its dialect's root plus the path
   * its real base URL has (`…/name/api/v1` for a provider whose default base URL ends in `/api/v1`).
   */
  baseUrlFor(dialect: string): string {
    return `${this.url(dialect)}${this.formatOf(dialect).basePath ?? ''}`;
  }

  private formatOf(dialect: string): WireFormat {
    const format = this.formats.find((candidate) => candidate.dialect === dialect);
    if (format === undefined) throw new Error(`no wire format ${dialect}`);
    return format;
  }

  get origin(): string {
    return this.baseUrl;
  }

  /** Answers every later request with `handler` (queued behaviours still go first). */
  setHandler(handler: Handler): void {
    this.handler = handler;
  }

  /** The next requests get these behaviours, in order; after them the handler answers again. */
  enqueue(...behaviours: Behaviour[]): void {
    this.queue.push(...behaviours);
  }

  reset(): void {
    this.requests.length = 0;
    this.received = 0;
    this.warmUps.length = 0;
    this.abandoned.length = 0;
    this.queue.length = 0;
    this.handler = DEFAULT_HANDLER;
  }

  requestsFor(dialect: string): RecordedRequest[] {
    return this.requests.filter((request) => request.dialect === dialect);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const [, dialect = '', ...rest] = url.pathname.split('/');
    const path = `/${rest.join('/')}`;
    const format = this.formats.find((candidate) => candidate.dialect === dialect);
    const rawBytes = await readBody(req);
    const rawBody = rawBytes.toString('utf8');

    if (
      format?.transcription !== undefined &&
      req.method !== undefined &&
      format.transcription.matches(req.method, path)
    ) {
      await this.transcribe(format, req, res, dialect, path, url, rawBytes);
      return;
    }
    if (req.method === 'GET' && path.endsWith('/tcp_warming')) {
      this.warmUps.push(url.pathname);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      return;
    }
    if (format === undefined || req.method === undefined || !format.matches(req.method, path)) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `fake: no route for ${req.method} ${url.pathname}` } }));
      return;
    }

    let body: unknown;
    try {
      body = rawBody === '' ? undefined : JSON.parse(rawBody);
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":{"message":"fake: body is not JSON"}}');
      return;
    }
    const { media = [], ...described } = format.describe(path, url.searchParams, req.headers, body);
    const request: RecordedRequest = {
      dialect,
      method: req.method,
      path: `${path}${url.search}`,
      headers: req.headers,
      body,
      media,
      operation: 'chat',
      index: this.received++,
      receivedAt: this.now(),
      ...described,
    };
    if (this.recordRequests) this.requests.push(request);
    res.on('close', () => {
      if (!res.writableFinished) this.abandoned.push(request.index);
    });
    // A part the model cannot take, or one that is malformed, is refused as the provider refuses it.
    const refused = media.find(
      (part) => !part.valid || part.kind === 'other' || format.modelTakes?.(request.model, part.kind) === false,
    );
    if (refused !== undefined) {
      await this.perform(format, request, this.refusal(format, request, refused), res);
      return;
    }
    const behaviour = this.queue.shift() ?? (await this.handler(request));
    await this.perform(format, request, behaviour, res);
  }

  private refusal(format: WireFormat, request: RecordedRequest, media: RecordedMedia): Behaviour {
    return (
      format.unsupportedInput?.(request, media) ?? {
        type: 'error',
        status: 400,
        body: { error: { message: `fake: ${media.kind} input not accepted` } },
      }
    );
  }

  /** Speech to text: a multipart upload of `file` (the audio) and `model`; answered `{text}`. */
  private async transcribe(
    format: WireFormat,
    req: IncomingMessage,
    res: ServerResponse,
    dialect: string,
    path: string,
    url: URL,
    body: Buffer,
  ): Promise<void> {
    const parts = parseMultipart(body, req.headers['content-type']);
    const field = (name: string) => parts.find((part) => part.name === name);
    const file = field('file');
    const model = field('model')?.content.toString('utf8');
    const authorization = req.headers.authorization;
    const media =
      file === undefined ? [] : [uploadedMedia(file.contentType ?? 'application/octet-stream', file.content)];
    const request: RecordedRequest = {
      dialect,
      method: req.method ?? 'POST',
      path: `${path}${url.search}`,
      headers: req.headers,
      body: Object.fromEntries(
        parts.filter((part) => part.filename === undefined).map((part) => [part.name, part.content.toString('utf8')]),
      ),
      media,
      operation: 'transcription',
      apiKey: authorization?.startsWith('Bearer ') ? authorization.slice('Bearer '.length) : undefined,
      model,
      stream: false,
      messages: [],
      index: this.received++,
      receivedAt: this.now(),
    };
    if (this.recordRequests) this.requests.push(request);
    const audio = media[0];
    if (audio === undefined || !audio.valid || audio.kind !== 'audio' || model === undefined) {
      sendJson(res, 400, {
        error: {
          message:
            audio === undefined
              ? "file: a file must be provided in the 'file' field"
              : model === undefined
                ? "model: property 'model' is missing"
                : 'file must be one of the following types: [flac mp3 mp4 mpeg mpga m4a ogg opus wav webm]',
          type: 'invalid_request_error',
        },
      });
      return;
    }
    const behaviour = this.queue.shift() ?? (await this.handler(request));
    if (behaviour.type === 'reply') {
      await delay(behaviour.delayMs);
      sendJson(res, 200, format.transcription!.completion(behaviour, request), behaviour.headers);
      return;
    }
    await this.perform(format, request, behaviour, res);
  }

  private async perform(
    format: WireFormat,
    request: RecordedRequest,
    behaviour: Behaviour,
    res: ServerResponse,
  ): Promise<void> {
    switch (behaviour.type) {
      case 'hang':
        return; // the socket stays open until the client gives up or the server stops
      case 'error':
        await delay(behaviour.delayMs);
        sendJson(res, behaviour.status, behaviour.body, behaviour.headers);
        return;
      case 'garbage':
        res.writeHead(200, { 'content-type': behaviour.contentType ?? 'application/json' });
        res.end(behaviour.body ?? '<html>502 bad gateway… or is it</html>');
        return;
      case 'blocked': {
        const { status, body } = format.blocked(request);
        if (request.stream && status === 200) {
          startSse(res, {});
          writeSse(res, body);
          res.end();
        } else {
          sendJson(res, status, body);
        }
        return;
      }
      case 'error-in-body':
        if (!request.stream) {
          sendJson(res, 200, behaviour.body);
          return;
        }
        startSse(res, {});
        for (const event of format.textEvents(request, splitWords(behaviour.text ?? '', behaviour.afterChunks ?? 0))) {
          writeSse(res, event);
        }
        writeSse(res, behaviour.body);
        res.end();
        return;
      case 'stall':
      case 'cut': {
        startSse(res, {});
        const chunks = splitWords(behaviour.text, behaviour.afterChunks);
        for (const event of format.textEvents(request, chunks)) writeSse(res, event);
        if (behaviour.type === 'cut') {
          // Let the chunks reach the client before the connection dies mid-stream.
          await delay(20);
          res.socket?.destroy();
        }
        return;
      }
      case 'reply':
        await delay(behaviour.delayMs);
        if (!request.stream) {
          sendJson(res, 200, format.completion(behaviour, request), behaviour.headers);
          return;
        }
        startSse(res, behaviour.headers ?? {});
        for (const event of format.streamEvents(behaviour, request, behaviour.chunks ?? splitWords(behaviour.text))) {
          if (res.destroyed) return;
          writeSse(res, event);
          await delay(behaviour.chunkDelayMs);
        }
        res.end();
        return;
    }
  }
}

/** Splits text into word chunks (each keeps its trailing space); `limit` keeps only the first ones. */
export function splitWords(text: string, limit = Number.POSITIVE_INFINITY): string[] {
  const words = text.match(/\S+\s*|\s+/g) ?? [];
  return words.slice(0, limit);
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers?: Readonly<Record<string, string>>,
): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(text);
}

function startSse(res: ServerResponse, headers: Readonly<Record<string, string>>): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', ...headers });
  res.flushHeaders();
}

/** Objects are sent as `data: <json>`; strings as `data: <string>`, or verbatim when they are a whole frame (`event: …`). */
function writeSse(res: ServerResponse, event: unknown): void {
  if (typeof event === 'string' && event.startsWith('event:')) res.write(`${event}\n\n`);
  else res.write(`data: ${typeof event === 'string' ? event : JSON.stringify(event)}\n\n`);
}

function delay(ms: number | undefined): Promise<void> {
  if (ms === undefined || ms <= 0) return Promise.resolve();
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (part: Buffer) => parts.push(part));
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}
