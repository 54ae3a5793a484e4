/**
 * The HTTP transport of the SDKs and of grammY: a `fetch`-shaped function over undici's `request`.
 *
 * Why not the built-in `fetch`: on Node 20 each call builds WHATWG Request, Response, Headers
 * and ReadableStream objects, validates every header and clones an AbortSignal; measured side by
 * side against the fake provider server, a call of one provider's SDK cost 0.39–0.52 ms of CPU through it and
 * 0.18–0.22 ms through this transport, and a grammY call 0.22 ms through node-fetch (its default)
 * against 0.10 ms. For a bot whose every answer is one provider call and one or two Telegram
 * calls, that is most of its CPU.
 *
 * What it does the way `fetch` does: keep-alive connection pooling (undici's Agent), the request
 * signal aborts the exchange at any point (an `AbortError`), a network failure is a
 * `TypeError('fetch failed')` with the cause attached, and the response has `status`, `ok`,
 * `headers.get()`, `text()`, `json()`, `arrayBuffer()` and a `body` that is async-iterable (the
 * SDKs' stream readers accept one). What it leaves out, for the callers here never need it: no
 * redirects are followed (no LLM or Bot API call redirects), no `Content-Encoding` is decoded
 * (none is asked for), no `clone()`. A request body that is not a string, bytes or a Node stream
 * (a FormData, a Blob, a web stream) goes to the built-in `fetch` instead.
 */
import { STATUS_CODES } from 'node:http';
import { Readable } from 'node:stream';
import { Agent, request } from 'undici';

type FetchInput = Parameters<typeof fetch>[0];
type FetchInit = NonNullable<Parameters<typeof fetch>[1]>;

/**
 * The response headers: read-only, looked up case-insensitively like WHATWG `Headers`. A view of
 * undici's header record (names already lower-case), copied into nothing: most callers read two
 * or three headers of it, if any.
 */
export class ResponseHeaders {
  readonly #raw: Record<string, string | string[] | undefined>;

  constructor(raw: Record<string, string | string[] | undefined>) {
    // undici's names are lower-case; any other record is normalised once.
    this.#raw = Object.keys(raw).every((name) => name === name.toLowerCase()) ? raw : lowerCaseNames(raw);
  }

  get(name: string): string | null {
    const value = this.#raw[name] ?? this.#raw[name.toLowerCase()];
    if (value === undefined) return null;
    // Repeated headers are joined as `fetch` joins them.
    return Array.isArray(value) ? value.join(', ') : value;
  }

  has(name: string): boolean {
    return this.get(name) !== null;
  }

  forEach(callback: (value: string, name: string) => void): void {
    for (const [name, value] of this.entries()) callback(value, name);
  }

  *entries(): IterableIterator<[string, string]> {
    for (const name of Object.keys(this.#raw)) {
      const value = this.get(name);
      if (value !== null) yield [name, value];
    }
  }

  *keys(): IterableIterator<string> {
    for (const [name] of this.entries()) yield name;
  }

  *values(): IterableIterator<string> {
    for (const [, value] of this.entries()) yield value;
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }
}

function lowerCaseNames(
  raw: Record<string, string | string[] | undefined>,
): Record<string, string | string[] | undefined> {
  const normalised: Record<string, string | string[] | undefined> = {};
  for (const [name, value] of Object.entries(raw)) normalised[name.toLowerCase()] = value;
  return normalised;
}

interface UndiciBody extends Readable {
  readonly bodyUsed: boolean;
  text(): Promise<string>;
  json(): Promise<unknown>;
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** The part of a WHATWG `Response` the SDKs and grammY read. */
export class TransportResponse {
  readonly ok: boolean;
  readonly statusText: string;
  readonly redirected = false;
  readonly type = 'basic';
  readonly headers: ResponseHeaders;

  constructor(
    readonly status: number,
    headers: Record<string, string | string[] | undefined>,
    readonly body: UndiciBody,
    readonly url: string,
  ) {
    this.ok = status >= 200 && status <= 299;
    this.statusText = STATUS_CODES[status] ?? '';
    this.headers = new ResponseHeaders(headers);
  }

  get bodyUsed(): boolean {
    return this.body.bodyUsed;
  }

  async text(): Promise<string> {
    return this.unused().text();
  }

  async json(): Promise<unknown> {
    return this.unused().json();
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    return this.unused().arrayBuffer();
  }

  /** The body, unless it was read already (then a TypeError, as `fetch` gives). */
  private unused(): UndiciBody {
    if (this.body.bodyUsed) throw new TypeError('Body is unusable: Body has already been read');
    return this.body;
  }

  clone(): never {
    throw new TypeError('this transport does not clone responses');
  }
}

/** Keep-alive connections, shared by every caller of the transport in this process. */
const dispatcher = new Agent({ keepAliveTimeout: 10_000, keepAliveMaxTimeout: 60_000 });

type RequestBody = string | Uint8Array | Readable | null | undefined;

function simpleBody(body: FetchInit['body']): RequestBody | false {
  if (body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array) return body;
  if (body instanceof Readable) return body;
  return false;
}

function headerRecord(headers: FetchInit['headers']): Record<string, string> {
  const record: Record<string, string> = {};
  // Names are case-insensitive: a name given twice is sent once, its values joined as fetch joins them.
  const add = (name: string, value: string): void => {
    const key = name.toLowerCase();
    const previous = record[key];
    record[key] = previous === undefined ? value : `${previous}, ${value}`;
  };
  if (headers === undefined) return record;
  if (headers instanceof Headers) {
    headers.forEach((value, name) => {
      add(name, value);
    });
  } else if (Array.isArray(headers)) {
    for (const [name, value] of headers) if (name !== undefined && value !== undefined) add(name, value);
  } else {
    for (const [name, value] of Object.entries(headers))
      add(name, typeof value === 'string' ? value : value.join(', '));
  }
  return record;
}

/** The methods `fetch` upper-cases (others are sent as written). */
const NORMALISED_METHODS = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']);

function methodOf(method: string | undefined): string {
  if (method === undefined) return 'GET';
  const upper = method.toUpperCase();
  return NORMALISED_METHODS.has(upper) ? upper : method;
}

function isAbort(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}

/**
 * `fetch(input, init)` over undici's `request` (see the module comment for what is left out).
 * Typed as `fetch` so that it can be handed to any client that takes a custom one.
 */
export const transportFetch: typeof fetch = async (input: FetchInput, init: FetchInit = {}): Promise<Response> => {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : undefined;
  const body = simpleBody(init.body);
  // A Request object, or a body this transport does not send: the built-in fetch handles it.
  if (url === undefined || body === false) return fetch(input, init);
  const signal = init.signal ?? undefined;
  if (signal?.aborted) throw signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
  try {
    const response = await request(url, {
      method: methodOf(init.method) as 'GET',
      headers: headerRecord(init.headers),
      body,
      signal,
      dispatcher,
    });
    return new TransportResponse(
      response.statusCode,
      response.headers,
      response.body as unknown as UndiciBody,
      url,
    ) as unknown as Response;
  } catch (error) {
    if (isAbort(error) || signal?.aborted) throw signal?.reason ?? error;
    throw new TypeError('fetch failed', { cause: error });
  }
};
