import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import Cerebras from '@cerebras/cerebras_cloud_sdk';
import { cerebrasProvider, readCerebrasRateLimits, readSseChunks } from '../../../providers/cerebras';
import type { ChatRequest } from '../../../providers/types';
import { type FakeProviderServer, startFakeProviderServer } from '../../fakes/provider-server';
import { cerebrasErrors, cerebrasRateLimitHeaders } from '../../fakes/provider-server/errors-cerebras';
import { collectStream, rejectionOf } from '../../helpers/streams';
import { describeAdapterContract } from './adapter-contract';

describeAdapterContract({
  descriptor: cerebrasProvider,
  dialect: 'cerebras',
  errors: {
    auth: [cerebrasErrors.invalidKey(), cerebrasErrors.notAuthenticated()],
    rateLimited: { behaviour: cerebrasErrors.tokensPerMinute('4.77'), retryAfterMs: 4770 },
    quotaExhausted: [cerebrasErrors.tokensPerDay(), cerebrasErrors.requestsPerDay()],
    serverErrors: [cerebrasErrors.serverError(), cerebrasErrors.unavailable(), cerebrasErrors.highTraffic()],
    contextTooLong: [cerebrasErrors.contextTooLong()],
    badRequest: [cerebrasErrors.modelNotFound()],
  },
});

describe('cerebras adapter specifics', () => {
  let server: FakeProviderServer;
  const KEY = 'csk-fake-0123456789abcdefghij';
  const ask = (overrides: Partial<ChatRequest> = {}): ChatRequest => ({
    messages: [{ role: 'user', content: 'hi' }],
    ...overrides,
  });
  const adapter = () =>
    cerebrasProvider.create({
      baseUrl: server.url('cerebras'),
      model: 'gpt-oss-120b',
      timeoutMs: 2000,
      idleTimeoutMs: 2000,
    });

  beforeAll(async () => {
    server = await startFakeProviderServer();
  });
  afterAll(async () => server.stop());
  beforeEach(() => server.reset());

  it('reads the daily request window and the per-minute token window (float-second resets) from a successful answer', async () => {
    server.enqueue({
      type: 'reply',
      text: 'ok',
      headers: cerebrasRateLimitHeaders({ requestsLeftToday: 99, tokensLeftThisMinute: 5000 }),
    });
    const result = await adapter().complete(ask(), KEY);
    expect(result.rateLimits).toEqual({
      requestsPerDay: { limit: 14400, remaining: 99, resetAfterMs: 33_011_383 },
      tokensPerMinute: { limit: 60000, remaining: 5000, resetAfterMs: 11_383 },
    });
    expect(server.requests[0]?.path).toBe('/v1/chat/completions');
  });

  it('reads the same windows from a streamed answer', async () => {
    server.enqueue({ type: 'reply', text: 'a b', headers: cerebrasRateLimitHeaders({ requestsLeftToday: 7 }) });
    const { finish } = await collectStream(adapter().stream(ask(), KEY));
    expect(finish?.rateLimits?.requestsPerDay?.remaining).toBe(7);
  });

  it('keeps the rate-limit headers of a 429 on the error and takes the retry delay from the empty window', async () => {
    server.enqueue(cerebrasErrors.tokensPerMinute('2.5'));
    const { error } = await collectStream(adapter().stream(ask(), KEY));
    expect(error).toMatchObject({
      kind: 'rate_limited',
      status: 429,
      retryAfterMs: 2500,
      rateLimits: { tokensPerMinute: { remaining: 0, resetAfterMs: 2500 }, requestsPerDay: { limit: 14400 } },
    });
  });

  it('prefers a retry-after header when one comes with a per-minute request 429', async () => {
    server.enqueue(cerebrasErrors.requestsPerMinute(7));
    const error = await rejectionOf(adapter().complete(ask(), KEY));
    expect(error).toMatchObject({ kind: 'rate_limited', retryAfterMs: 7000 });
  });

  it('treats "high traffic" as the provider being overloaded (transient), not as this key being limited', async () => {
    server.enqueue(cerebrasErrors.highTraffic());
    const error = await rejectionOf(adapter().complete(ask(), KEY));
    expect(error).toMatchObject({ kind: 'transient', status: 429 });
  });

  it('classifies an error event mid-stream by its body, after delivering the text streamed before it', async () => {
    server.enqueue(cerebrasErrors.highTrafficMidStream('one two three four', 2));
    const overloaded = await collectStream(adapter().stream(ask(), KEY));
    expect(overloaded.deltas).toEqual(['one ', 'two ']);
    expect(overloaded.finish).toBeUndefined();
    expect(overloaded.error).toMatchObject({ name: 'ProviderError', kind: 'transient', provider: 'cerebras' });
    expect((overloaded.error as Error).message).toMatch(/high traffic/);

    server.enqueue(cerebrasErrors.tokensPerDayMidStream('one two three', 1));
    const exhausted = await collectStream(adapter().stream(ask(), KEY));
    expect(exhausted.deltas).toEqual(['one ']);
    expect(exhausted.error).toMatchObject({ kind: 'quota_exhausted', provider: 'cerebras' });
  });

  it('classifies an `event: error` frame mid-stream by its body', async () => {
    server.enqueue({
      type: 'error-in-body',
      text: 'one two three',
      afterChunks: 1,
      body: 'event: error\ndata: {"error":{"message":"Tokens per day limit exceeded - too many tokens processed.","type":"too_many_requests_error","code":"request_quota_exceeded"},"status_code":429}',
    });
    const { deltas, error } = await collectStream(adapter().stream(ask(), KEY));
    expect(deltas).toEqual(['one ']);
    expect(error).toMatchObject({ kind: 'quota_exhausted', provider: 'cerebras' });
  });

  it('classifies an error inside an HTTP 200 body', async () => {
    server.enqueue(cerebrasErrors.tokensPerDayMidStream('', 0));
    const error = await rejectionOf(adapter().complete(ask(), KEY));
    expect(error).toMatchObject({ kind: 'quota_exhausted', provider: 'cerebras' });
  });

  it('finds streaming usage in the last chunk without asking for it', async () => {
    server.enqueue({ type: 'reply', text: 'a b c', usage: { inputTokens: 3, outputTokens: 3 } });
    const { finish } = await collectStream(adapter().stream(ask(), KEY));
    expect(finish?.usage).toEqual({ inputTokens: 3, outputTokens: 3, totalTokens: 6 });
    expect(server.requests[0]?.body).not.toHaveProperty('stream_options');
  });

  it('sends JSON mode and the output limit as max_completion_tokens', async () => {
    server.enqueue({ type: 'reply', text: '{"ok":true}' });
    await adapter().complete(ask({ json: true, maxOutputTokens: 99 }), KEY);
    expect(server.requests[0]?.body).toMatchObject({
      model: 'gpt-oss-120b',
      response_format: { type: 'json_object' },
      max_completion_tokens: 99,
    });
    expect(server.requests[0]?.body).not.toHaveProperty('max_tokens');
  });

  it('makes exactly one request per call: no SDK retry after a 500 or a 429 with retry-after', async () => {
    server.enqueue(cerebrasErrors.serverError());
    await rejectionOf(adapter().complete(ask(), KEY));
    server.enqueue(cerebrasErrors.requestsPerMinute(0));
    await rejectionOf(adapter().complete(ask(), KEY));
    expect(server.requests).toHaveLength(2);
  });

  it('sends no TCP warm-up request when a client is created', async () => {
    // Control: the SDK's own default does warm up, and the fake sees it.
    new Cerebras({ apiKey: KEY, baseURL: server.url('cerebras'), maxRetries: 0 });
    await waitFor(() => server.warmUps.length > 0);
    expect(server.warmUps).toEqual(['/cerebras/v1/tcp_warming']);
    server.reset();

    server.enqueue({ type: 'reply', text: 'ok' });
    server.enqueue({ type: 'reply', text: 'ok' });
    const fresh = adapter();
    await fresh.complete(ask(), KEY);
    await fresh.complete(ask(), 'csk-another-key-0123456789abc');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server.warmUps).toEqual([]);
    expect(server.requests).toHaveLength(2);
  });

  it('decodes SSE whatever the network reads: each event as soon as its blank line arrives', async () => {
    const reads = [
      ': keep-alive comment\r\n\r\n',
      'data: {"n":1}\n\n',
      'data: {"n"',
      ':2}\r\n',
      '\r\ndata: {"n":3}\n\ndata: [DONE]\n\n',
      'data: {"n":4}\n\n',
    ];
    const seen: unknown[] = [];
    const source = (async function* () {
      for (const read of reads) yield new TextEncoder().encode(read);
    })();
    for await (const chunk of readSseChunks(source)) seen.push(chunk);
    expect(seen).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);

    // The SDK's decoder would hold this event until more bytes came; the stall must not hide it.
    const pending: unknown[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const stalling = (async function* () {
      yield 'data: {"first":true}\n\n';
      await gate;
    })();
    const iterator = readSseChunks(stalling)[Symbol.asyncIterator]();
    pending.push((await iterator.next()).value);
    expect(pending).toEqual([{ first: true }]);
    release();
    expect((await iterator.next()).done).toBe(true);
  });

  it('parses headers with no rate-limit information as undefined', () => {
    expect(readCerebrasRateLimits(new Headers())).toBeUndefined();
    expect(readCerebrasRateLimits({ 'content-type': 'application/json' })).toBeUndefined();
  });

  it('reads the extra request-per-minute and token-per-day windows some accounts get', () => {
    expect(
      readCerebrasRateLimits({
        'x-ratelimit-limit-requests-minute': '5',
        'x-ratelimit-remaining-requests-minute': '4',
        'x-ratelimit-reset-requests-minute': '42.5',
        'x-ratelimit-limit-tokens-day': '1000000',
        'x-ratelimit-remaining-tokens-day': '999000',
      }),
    ).toEqual({
      requestsPerMinute: { limit: 5, remaining: 4, resetAfterMs: 42_500 },
      tokensPerDay: { limit: 1_000_000, remaining: 999_000, resetAfterMs: undefined },
    });
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
