import { once } from 'node:events';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ResponseHeaders, TransportResponse, transportFetch } from '../../providers/shared/http-transport';

type FetchInit = NonNullable<Parameters<typeof fetch>[1]>;

const PERSIAN = 'سلام ۱۲۳ کتاب‌ها';

/** What the server saw of one request, recorded once its body has been read in full. */
interface Received {
  method: string;
  /** Path and query, as sent on the request line. */
  url: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  socket: Socket;
}

type Handler = (req: IncomingMessage, res: ServerResponse, received: Received) => unknown;

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
}

function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

/** Rejects if `promise` has not settled within `ms`: an upper bound, never a synchronisation point. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Awaits a promise expected to reject and returns what it rejected with. */
async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject, but it resolved');
}

/** A local HTTP server: records every request, answers by path, and counts connections. */
class TestServer {
  readonly received: Received[] = [];
  connections = 0;
  base = '';
  port = 0;
  readonly #routes = new Map<string, Handler>();
  readonly #arrivals = new Map<string, Deferred<Received>[]>();
  readonly #server: Server;

  constructor() {
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch(() => res.destroy());
    });
    this.#server.on('connection', () => {
      this.connections += 1;
    });
  }

  async start(): Promise<this> {
    this.#server.listen(0, '127.0.0.1');
    await once(this.#server, 'listening');
    this.port = (this.#server.address() as AddressInfo).port;
    this.base = `http://127.0.0.1:${this.port}`;
    return this;
  }

  route(path: string, handler: Handler): void {
    this.#routes.set(path, handler);
  }

  /** Resolves with the next request to `path`, once its body has been read. */
  arrival(path: string): Promise<Received> {
    const waiter = deferred<Received>();
    const waiters = this.#arrivals.get(path) ?? [];
    waiters.push(waiter);
    this.#arrivals.set(path, waiters);
    return waiter.promise;
  }

  requestsTo(path: string): Received[] {
    return this.received.filter((received) => received.path === path);
  }

  /** The one request made to `path`. */
  only(path: string): Received {
    const requests = this.requestsTo(path);
    expect(requests).toHaveLength(1);
    return requests[0]!;
  }

  async close(): Promise<void> {
    if (!this.#server.listening) return;
    const closed = new Promise<void>((resolve, reject) => {
      this.#server.close((error) => (error ? reject(error) : resolve()));
    });
    this.#server.closeAllConnections();
    await closed;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = req.url ?? '';
    const path = url.split('?')[0] ?? '';
    const received: Received = {
      method: req.method ?? '',
      url,
      path,
      headers: req.headers,
      body: Buffer.concat(chunks),
      socket: req.socket,
    };
    this.received.push(received);
    this.#arrivals.get(path)?.shift()?.resolve(received);
    const handler = this.#routes.get(path);
    if (handler === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('no route');
      return;
    }
    await handler(req, res, received);
  }
}

/** Calls the transport and checks that it answered itself (not through the built-in fetch). */
async function call(input: string | URL, init?: FetchInit): Promise<TransportResponse> {
  const response: unknown = await transportFetch(input, init);
  expect(response).toBeInstanceOf(TransportResponse);
  return response as TransportResponse;
}

function bytesOf(buffer: ArrayBuffer): number[] {
  return Array.from(new Uint8Array(buffer));
}

const server = new TestServer();
/** Released in afterAll, so handlers still waiting on it can finish. */
const released: Deferred<void>[] = [];

beforeAll(async () => {
  await server.start();
  server.route('/echo', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('ok');
  });
});

afterAll(async () => {
  for (const gate of released) gate.resolve();
  await server.close();
});

describe('transportFetch: the request the server receives', () => {
  it('sends a GET with the path, the query (Persian text percent-encoded) and headers given as a plain object', async () => {
    const query = `q=${encodeURIComponent(PERSIAN)}&n=1&empty=`;
    const response = await call(`${server.base}/echo?${query}`, {
      headers: { 'X-Custom': 'plain-object', Accept: 'application/json' },
    });
    expect(await response.text()).toBe('ok');

    const received = server.only('/echo');
    expect(received.method).toBe('GET');
    expect(received.url).toBe(`/echo?${query}`);
    const params = new URL(received.url, server.base).searchParams;
    expect(params.get('q')).toBe(PERSIAN);
    expect(params.get('n')).toBe('1');
    expect(received.headers['x-custom']).toBe('plain-object');
    expect(received.headers.accept).toBe('application/json');
    expect(received.body.length).toBe(0);
  });

  it('sends headers given as a WHATWG Headers object', async () => {
    const path = '/headers-object';
    server.route(path, (_req, res) => res.end());
    const headers = new Headers({ 'X-From': 'headers-object' });
    headers.append('X-Twice', 'one');
    headers.append('X-Twice', 'two');
    const response = await call(`${server.base}${path}`, { headers });
    await response.text();

    const received = server.only(path);
    expect(received.headers['x-from']).toBe('headers-object');
    expect(received.headers['x-twice']).toBe('one, two');
  });

  it('sends headers given as an array of pairs', async () => {
    const path = '/headers-pairs';
    server.route(path, (_req, res) => res.end());
    const response = await call(`${server.base}${path}`, {
      headers: [
        ['X-First', '1'],
        ['X-Second', 'second value'],
      ],
    });
    await response.text();

    const received = server.only(path);
    expect(received.headers['x-first']).toBe('1');
    expect(received.headers['x-second']).toBe('second value');
  });

  // The built-in fetch appends a name that repeats in an array of pairs ('a, b'); see the report.
  it('joins a header name repeated in an array of pairs, as fetch does', async () => {
    const path = '/headers-pairs-repeated';
    server.route(path, (_req, res) => res.end());
    const response = await call(`${server.base}${path}`, {
      headers: [
        ['X-Repeated', 'a'],
        ['X-Repeated', 'b'],
      ],
    });
    await response.text();
    expect(server.only(path).headers['x-repeated']).toBe('a, b');
  });

  it('sends a POST with a string body byte for byte, Persian text included', async () => {
    const path = '/post-string';
    server.route(path, (_req, res) => res.end());
    const body = JSON.stringify({ text: PERSIAN, n: 1 });
    const response = await call(`${server.base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body,
    });
    await response.text();

    const received = server.only(path);
    expect(received.method).toBe('POST');
    expect(received.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(received.headers['content-length']).toBe(String(Buffer.byteLength(body, 'utf8')));
    expect(received.body.equals(Buffer.from(body, 'utf8'))).toBe(true);
    expect(JSON.parse(received.body.toString('utf8'))).toEqual({ text: PERSIAN, n: 1 });
  });

  it('sends a POST with a Uint8Array body byte for byte', async () => {
    const path = '/post-bytes';
    server.route(path, (_req, res) => res.end());
    const body = new Uint8Array(256 + 3);
    for (let i = 0; i < body.length; i += 1) body[i] = i % 256;
    const response = await call(`${server.base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body,
    });
    await response.text();

    const received = server.only(path);
    expect(received.method).toBe('POST');
    expect(received.headers['content-length']).toBe(String(body.length));
    expect(Array.from(received.body)).toEqual(Array.from(body));
  });

  it('sends a Node Readable as the body', async () => {
    const path = '/post-readable';
    server.route(path, (_req, res) => res.end());
    const parts = ['first part, ', PERSIAN, ', last part'];
    const response = await call(`${server.base}${path}`, {
      method: 'PUT',
      body: Readable.from(parts.map((part) => Buffer.from(part, 'utf8'))) as unknown as FetchInit['body'],
    });
    await response.text();

    const received = server.only(path);
    expect(received.method).toBe('PUT');
    expect(received.body.toString('utf8')).toBe(parts.join(''));
  });

  it('accepts a URL object as input and reports its href as the response url', async () => {
    const path = '/url-object';
    server.route(path, (_req, res) => res.end('url'));
    const url = new URL(`${server.base}${path}?a=1`);
    const response = await call(url);
    expect(response.url).toBe(url.href);
    expect(await response.text()).toBe('url');
    expect(server.only(path).url).toBe(`${path}?a=1`);
  });

  // The built-in fetch upper-cases the standard methods ('post' -> 'POST'); see the report.
  it('normalises a lower-case standard method to upper case, as fetch does', async () => {
    const path = '/lower-case-method';
    server.route(path, (_req, res) => res.end());
    const response = await call(`${server.base}${path}`, { method: 'post', body: 'x' });
    await response.text();
    expect(response.status).toBe(200);
    expect(server.only(path).method).toBe('POST');
  });
});

describe('transportFetch: the response', () => {
  beforeAll(() => {
    server.route('/status', (req, res) => {
      const code = Number(new URL(req.url ?? '', server.base).searchParams.get('code'));
      if (code === 302) res.setHeader('location', '/echo');
      res.writeHead(code, { 'content-type': 'text/plain' }).end(`status ${code}`);
    });
    server.route('/headers', (_req, res) => {
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.setHeader('X-Request-Id', 'abc-123');
      res.setHeader('X-Multi', ['first', 'second']);
      res.end('headers');
    });
    server.route('/persian', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(PERSIAN);
    });
    server.route('/json', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ text: PERSIAN, list: [1, 2] }));
    });
    server.route('/not-json', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{ not json');
    });
    server.route('/bytes', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(Buffer.from([0, 1, 127, 128, 254, 255]));
    });
  });

  it.each([
    [200, true, 'OK'],
    [201, true, 'Created'],
    [302, false, 'Found'],
    [404, false, 'Not Found'],
    [500, false, 'Internal Server Error'],
  ])('reports status %i as ok=%s with statusText %p, and does not follow redirects', async (code, ok, statusText) => {
    const url = `${server.base}/status?code=${code}`;
    const response = await call(url);
    expect(response.status).toBe(code);
    expect(response.ok).toBe(ok);
    expect(response.statusText).toBe(statusText);
    expect(response.url).toBe(url);
    expect(response.redirected).toBe(false);
    expect(await response.text()).toBe(`status ${code}`);
  });

  it('reads headers case-insensitively, joins a repeated one with ", " and iterates them', async () => {
    const response = await call(`${server.base}/headers`);
    await response.text();
    const { headers } = response;
    expect(headers).toBeInstanceOf(ResponseHeaders);

    expect(headers.get('x-request-id')).toBe('abc-123');
    expect(headers.get('X-REQUEST-ID')).toBe('abc-123');
    expect(headers.get('Content-Type')).toBe('text/plain; charset=utf-8');
    expect(headers.get('x-multi')).toBe('first, second');
    expect(headers.get('x-missing')).toBeNull();
    expect(headers.has('X-Multi')).toBe(true);
    expect(headers.has('x-missing')).toBe(false);

    const seen: Record<string, string> = {};
    headers.forEach((value, name) => {
      seen[name] = value;
    });
    expect(seen).toMatchObject({
      'content-type': 'text/plain; charset=utf-8',
      'x-request-id': 'abc-123',
      'x-multi': 'first, second',
    });
    expect(Object.fromEntries(headers.entries())).toEqual(seen);
    expect([...headers]).toEqual(Object.entries(seen));
    expect([...headers]).toContainEqual(['x-multi', 'first, second']);
    expect([...headers.keys()]).toEqual(Object.keys(seen));
    expect([...headers.values()]).toEqual(Object.values(seen));
  });

  it('reads the body with text(), decoding UTF-8 Persian text', async () => {
    const response = await call(`${server.base}/persian`);
    expect(await response.text()).toBe(PERSIAN);
  });

  it('reads the body with json()', async () => {
    const response = await call(`${server.base}/json`);
    expect(await response.json()).toEqual({ text: PERSIAN, list: [1, 2] });
  });

  it('rejects json() on a body that is not JSON', async () => {
    const response = await call(`${server.base}/not-json`);
    await expect(response.json()).rejects.toThrow(SyntaxError);
  });

  it('reads the body with arrayBuffer(), byte for byte', async () => {
    const response = await call(`${server.base}/bytes`);
    const buffer = await response.arrayBuffer();
    expect(buffer.byteLength).toBe(6);
    expect(bytesOf(buffer)).toEqual([0, 1, 127, 128, 254, 255]);
  });

  it('reads Persian text back byte for byte with arrayBuffer()', async () => {
    const response = await call(`${server.base}/persian`);
    expect(new TextDecoder().decode(await response.arrayBuffer())).toBe(PERSIAN);
  });

  it('flips bodyUsed once the body has been read, and rejects a second read', async () => {
    const response = await call(`${server.base}/persian`);
    expect(response.bodyUsed).toBe(false);
    expect(await response.text()).toBe(PERSIAN);
    expect(response.bodyUsed).toBe(true);
    await expect(response.text()).rejects.toThrow();
    await expect(response.json()).rejects.toThrow();
  });

  // The built-in fetch rejects a second read with a TypeError ('Body is unusable'); see the report.
  it('rejects a second read with a TypeError, as fetch does', async () => {
    const response = await call(`${server.base}/persian`);
    await response.text();
    await expect(response.text()).rejects.toThrow(TypeError);
  });

  it('refuses clone() with a TypeError', async () => {
    const response = await call(`${server.base}/persian`);
    expect(() => response.clone()).toThrow(TypeError);
    expect(await response.text()).toBe(PERSIAN);
  });
});

describe('ResponseHeaders', () => {
  it('lower-cases names, skips undefined values and joins arrays as fetch does', () => {
    const headers = new ResponseHeaders({ 'X-Mixed-Case': 'v', 'x-absent': undefined, 'set-thing': ['a', 'b', 'c'] });
    expect([...headers]).toEqual([
      ['x-mixed-case', 'v'],
      ['set-thing', 'a, b, c'],
    ]);
    expect(headers.has('x-absent')).toBe(false);
    expect(headers.get('X-MIXED-CASE')).toBe('v');
  });
});

describe('transportFetch: a streamed body', () => {
  it('yields the chunks of a streamed body as they arrive, each before the server writes the next', async () => {
    const path = '/stream';
    const chunks = ['first chunk|', `${PERSIAN}|`, 'last chunk'];
    const gates = chunks.map(() => deferred());
    released.push(...gates);
    let written = 0;
    server.route(path, async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      for (const [index, chunk] of chunks.entries()) {
        if (index > 0) await gates[index - 1]!.promise;
        written = index + 1;
        if (index === chunks.length - 1) res.end(chunk);
        else res.write(chunk);
      }
    });

    const response = await call(`${server.base}${path}`);
    expect(response.status).toBe(200);
    expect(response.bodyUsed).toBe(false);

    // A chunk may in principle come in pieces, so the text is gathered until each chunk is complete.
    const decoder = new TextDecoder();
    let text = '';
    let completed = 0;
    const writtenWhenCompleted: number[] = [];
    for await (const piece of response.body) {
      text += decoder.decode(piece as Uint8Array, { stream: true });
      while (completed < chunks.length && text === chunks.slice(0, completed + 1).join('')) {
        writtenWhenCompleted.push(written);
        completed += 1;
        gates[completed - 1]!.resolve();
      }
    }
    text += decoder.decode();

    expect(text).toBe(chunks.join(''));
    expect(completed).toBe(chunks.length);
    // Each chunk was read while the server had written it and nothing after it.
    expect(writtenWhenCompleted).toEqual([1, 2, 3]);
    expect(response.bodyUsed).toBe(true);
  });
});

describe('transportFetch: aborting', () => {
  beforeAll(() => {
    // Answers the headers and one chunk, then nothing until the test run ends.
    server.route('/stream-forever', async (_req, res) => {
      const gate = deferred();
      released.push(gate);
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first chunk');
      await gate.promise;
      res.end();
    });
  });

  it('rejects at once with the reason of a signal already aborted, and sends nothing', async () => {
    const path = '/never-sent';
    const reason = new Error('cancelled before the call');
    const promise = transportFetch(`${server.base}${path}`, { signal: AbortSignal.abort(reason) });
    // Settled before the event loop could have turned: no I/O was involved.
    const next = new Promise((resolve) => setImmediate(resolve, 'event loop turned'));
    await expect(Promise.race([promise, next])).rejects.toBe(reason);

    // A request made afterwards arrives, the aborted one never did.
    await (await call(`${server.base}/echo`)).text();
    expect(server.requestsTo(path)).toHaveLength(0);
  });

  it('rejects with an AbortError for a signal already aborted without a reason', async () => {
    const path = '/never-sent-either';
    const controller = new AbortController();
    controller.abort();
    const error = await rejectionOf(transportFetch(`${server.base}${path}`, { signal: controller.signal }));
    expect(error).toBe(controller.signal.reason);
    expect((error as Error).name).toBe('AbortError');
    await (await call(`${server.base}/echo`)).text();
    expect(server.requestsTo(path)).toHaveLength(0);
  });

  it('rejects promptly with an AbortError when aborted while waiting for the headers', async () => {
    const path = '/hang';
    const closed = deferred();
    server.route(path, (_req, res) => {
      res.on('close', () => closed.resolve());
      // Never answers.
    });
    const controller = new AbortController();
    const arrived = server.arrival(path);
    const promise = transportFetch(`${server.base}${path}`, { signal: controller.signal });
    await within(arrived, 1000, 'the request reaching the server');

    controller.abort();
    const error = await within(rejectionOf(promise), 500, 'the aborted call');
    expect((error as Error).name).toBe('AbortError');
    // The exchange is torn down on the server's side too.
    await within(closed.promise, 1000, 'the server seeing the connection close');

    // The transport still works afterwards.
    expect(await (await call(`${server.base}/echo`)).text()).toBe('ok');
  });

  it("rejects with the signal's reason when aborted with one while waiting for the headers", async () => {
    const path = '/hang-with-reason';
    server.route(path, () => {
      // Never answers.
    });
    const controller = new AbortController();
    const arrived = server.arrival(path);
    const promise = transportFetch(`${server.base}${path}`, { signal: controller.signal });
    await within(arrived, 1000, 'the request reaching the server');

    const reason = new Error('deadline passed');
    controller.abort(reason);
    await expect(within(promise, 500, 'the aborted call')).rejects.toBe(reason);
  });

  it('makes the body iteration throw when aborted while the body streams', async () => {
    const controller = new AbortController();
    const response = await call(`${server.base}/stream-forever`, { signal: controller.signal });
    expect(response.status).toBe(200);

    const pieces: string[] = [];
    const iterate = async (): Promise<void> => {
      for await (const piece of response.body) {
        pieces.push(String(piece));
        controller.abort();
      }
    };
    const error = await within(rejectionOf(iterate()), 1000, 'the aborted body');
    expect(pieces).toEqual(['first chunk']);
    expect((error as Error).name).toBe('AbortError');
  });

  it("makes the body iteration throw the signal's reason when aborted with one while the body streams", async () => {
    const controller = new AbortController();
    const response = await call(`${server.base}/stream-forever`, { signal: controller.signal });
    const reason = new Error('user went away');
    const iterate = async (): Promise<void> => {
      for await (const _piece of response.body) controller.abort(reason);
    };
    await expect(within(iterate(), 1000, 'the aborted body')).rejects.toBe(reason);
  });

  it('leaves a response alone when its signal is aborted after it was read', async () => {
    const controller = new AbortController();
    const response = await call(`${server.base}/persian`, { signal: controller.signal });
    expect(await response.text()).toBe(PERSIAN);
    controller.abort();
    expect(response.status).toBe(200);
    expect(response.bodyUsed).toBe(true);
    expect(await (await call(`${server.base}/echo`)).text()).toBe('ok');
  });
});

describe('transportFetch: network failures', () => {
  it("rejects with TypeError('fetch failed') and a cause when nothing listens on the port", async () => {
    const closedServer = await new TestServer().start();
    const { port } = closedServer;
    await closedServer.close();

    const error = await rejectionOf(transportFetch(`http://127.0.0.1:${port}/`));
    expect(error).toBeInstanceOf(TypeError);
    expect((error as TypeError).message).toBe('fetch failed');
    expect((error as TypeError).cause).toBeDefined();
    expect((error as TypeError).cause).toMatchObject({ code: 'ECONNREFUSED' });
  });

  it.each([
    ['with a Content-Length', { 'content-length': '1000' }],
    ['chunked', {}],
  ])('rejects reading the body when the server destroys the socket mid-body (%s)', async (label, headers) => {
    const path = `/cut-${label.replace(/\W+/g, '-')}`;
    const gate = deferred();
    released.push(gate);
    server.route(path, async (req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', ...headers });
      res.write('partial body');
      await gate.promise;
      req.socket.destroy();
    });

    const response = await call(`${server.base}${path}`);
    expect(response.status).toBe(200);
    const reading = response.text();
    gate.resolve();
    await expect(within(reading, 1000, 'reading the cut body')).rejects.toThrow();
  });
});

describe('transportFetch: what goes to the built-in fetch', () => {
  beforeAll(() => {
    server.route('/fallback', (_req, res) => {
      res.writeHead(201, { 'content-type': 'text/plain; charset=utf-8' }).end(PERSIAN);
    });
  });

  it('sends a Request object through the built-in fetch', async () => {
    const arrived = server.arrival('/fallback');
    const request = new Request(`${server.base}/fallback?via=request`, {
      method: 'POST',
      headers: { 'X-Via': 'request' },
      body: `from a Request: ${PERSIAN}`,
    });
    const response = await transportFetch(request);
    expect(response).toBeInstanceOf(Response);
    expect(response).not.toBeInstanceOf(TransportResponse);
    expect(response.status).toBe(201);
    expect(await response.text()).toBe(PERSIAN);

    const received = await arrived;
    expect(received.method).toBe('POST');
    expect(received.url).toBe('/fallback?via=request');
    expect(received.headers['x-via']).toBe('request');
    expect(received.body.toString('utf8')).toBe(`from a Request: ${PERSIAN}`);
  });

  it('sends a URLSearchParams body through the built-in fetch', async () => {
    const arrived = server.arrival('/fallback');
    const params = new URLSearchParams({ q: PERSIAN, n: '1' });
    const response = await transportFetch(`${server.base}/fallback`, { method: 'POST', body: params });
    expect(response).not.toBeInstanceOf(TransportResponse);
    expect(response.ok).toBe(true);
    expect(await response.text()).toBe(PERSIAN);

    const received = await arrived;
    expect(received.method).toBe('POST');
    expect(received.headers['content-type']).toMatch(/^application\/x-www-form-urlencoded/);
    expect(received.body.toString('utf8')).toBe(params.toString());
    expect(new URLSearchParams(received.body.toString('utf8')).get('q')).toBe(PERSIAN);
  });

  it('sends a Blob body through the built-in fetch', async () => {
    const arrived = server.arrival('/fallback');
    const blob = new Blob([`${PERSIAN}|`, new Uint8Array([0, 1, 2, 255])], { type: 'application/x-test' });
    const response = await transportFetch(`${server.base}/fallback`, { method: 'POST', body: blob });
    expect(response).not.toBeInstanceOf(TransportResponse);
    expect(await response.text()).toBe(PERSIAN);

    const received = await arrived;
    expect(received.headers['content-type']).toBe('application/x-test');
    expect(Array.from(received.body)).toEqual(bytesOf(await blob.arrayBuffer()));
  });
});

/**
 * undici hands a connection back to its pool in a `setImmediate` after the response completes
 * (the built-in fetch behaves the same), so a request made in the very same turn of the event loop
 * as the end of the previous body finds the connection not yet free and opens another one.
 */
function nextTurnOfEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

describe('transportFetch: keep-alive', () => {
  it('reuses one connection for two sequential requests', async () => {
    const own = await new TestServer().start();
    try {
      own.route('/one', (_req, res) => res.end('one'));
      own.route('/two', (_req, res) => res.end('two'));
      expect(await (await call(`${own.base}/one`)).text()).toBe('one');
      await nextTurnOfEventLoop();
      expect(await (await call(`${own.base}/two`, { method: 'POST', body: 'second' })).text()).toBe('two');

      expect(own.connections).toBe(1);
      expect(own.only('/one').socket).toBe(own.only('/two').socket);
    } finally {
      await own.close();
    }
  });

  it('keeps back-to-back requests on a small pool instead of a connection per request', async () => {
    const own = await new TestServer().start();
    try {
      own.route('/n', (_req, res) => res.end('n'));
      for (let i = 0; i < 8; i += 1) expect(await (await call(`${own.base}/n`)).text()).toBe('n');
      expect(own.requestsTo('/n')).toHaveLength(8);
      expect(own.connections).toBeLessThanOrEqual(2);
    } finally {
      await own.close();
    }
  });
});
