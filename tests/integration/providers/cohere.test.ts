import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { cohereProvider, normalizeCohereFinishReason, readCohereRateLimits } from '../../../providers/cohere';
import { type ChatRequest, isProviderError, type ProviderAdapter } from '../../../providers/types';
import { type FakeProviderServer, startFakeProviderServer } from '../../fakes/provider-server';
import { cohereErrors, cohereTrialHeaders } from '../../fakes/provider-server/errors-cohere';
import { collectStream, rejectionOf } from '../../helpers/streams';
import { describeAdapterContract } from './adapter-contract';

describeAdapterContract({
  descriptor: cohereProvider,
  dialect: 'cohere',
  lengthFinishReason: 'MAX_TOKENS',
  errors: {
    auth: [cohereErrors.invalidKey(), cohereErrors.noKey()],
    rateLimited: { behaviour: cohereErrors.perMinute(6), retryAfterMs: 6000 },
    quotaExhausted: [cohereErrors.trialMonthly(), cohereErrors.paymentRequired()],
    serverErrors: [cohereErrors.serverError(), cohereErrors.unavailable(), cohereErrors.badGateway()],
    contextTooLong: [cohereErrors.contextTooLong(), cohereErrors.inputTooLong()],
    badRequest: [cohereErrors.modelNotFound(), cohereErrors.invalidRequest()],
  },
});

describe('cohere adapter specifics', () => {
  const API_KEY = 'co-trial-key-0123456789abcdefghij';
  let server: FakeProviderServer;
  let adapter: ProviderAdapter;
  const ask = (overrides: Partial<ChatRequest> = {}): ChatRequest => ({
    messages: [{ role: 'user', content: 'hi' }],
    ...overrides,
  });

  beforeAll(async () => {
    server = await startFakeProviderServer();
    adapter = cohereProvider.create({
      baseUrl: server.url('cohere'),
      model: cohereProvider.defaultModel,
      timeoutMs: 2000,
      idleTimeoutMs: 2000,
    });
  });
  afterAll(async () => server.stop());
  beforeEach(() => server.reset());

  async function failure(request: Promise<unknown> | AsyncIterable<unknown>): Promise<unknown> {
    if (request instanceof Promise) return rejectionOf(request);
    try {
      for await (const _event of request) {
        // drain
      }
    } catch (error) {
      return error;
    }
    throw new Error('expected the stream to fail');
  }

  it('sends the system prompt as a v2 system message, first, with the history in order', async () => {
    await adapter.complete(
      ask({
        messages: [
          { role: 'system', content: 'You are terse.' },
          { role: 'user', content: 'q1' },
          { role: 'assistant', content: 'a1' },
          { role: 'user', content: 'q2' },
        ],
      }),
      API_KEY,
    );
    const received = server.requests[0]!;
    expect(received.path).toBe('/v2/chat');
    expect(received.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(received.body).toMatchObject({
      model: 'command-a-03-2025',
      stream: false,
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'q1' },
        { role: 'assistant', content: 'a1' },
        { role: 'user', content: 'q2' },
      ],
    });
    expect(received.body).not.toHaveProperty('preamble');
  });

  it('sends JSON mode as response_format, the output limit as max_tokens, and no stream_options', async () => {
    server.enqueue({ type: 'reply', text: '{"ok":true}' });
    const result = await adapter.complete(ask({ json: true, maxOutputTokens: 99, temperature: 0.3 }), API_KEY);
    expect(result.text).toBe('{"ok":true}');
    await collectStream(adapter.stream(ask(), API_KEY));
    const [plain, streamed] = server.requests;
    expect(plain?.body).toMatchObject({ response_format: { type: 'json_object' }, max_tokens: 99, temperature: 0.3 });
    expect(plain?.body).not.toHaveProperty('responseFormat');
    expect(plain?.body).not.toHaveProperty('maxTokens');
    expect(streamed?.body).toMatchObject({ stream: true });
    expect(streamed?.body).not.toHaveProperty('stream_options');
    expect(streamed?.body).not.toHaveProperty('response_format');
  });

  it('takes streaming usage from message-end, counting tokens rather than billed units', async () => {
    // The fake bills 66 input tokens fewer than it counts (the chat template), like Cohere.
    server.enqueue({ type: 'reply', text: 'a b c', usage: { inputTokens: 80, outputTokens: 3 } });
    const { text, finish, error } = await collectStream(adapter.stream(ask(), API_KEY));
    expect(error).toBeUndefined();
    expect(text).toBe('a b c');
    expect(finish).toMatchObject({
      finishReason: 'stop',
      rawFinishReason: 'COMPLETE',
      usage: { inputTokens: 80, outputTokens: 3, totalTokens: 83 },
      model: 'command-a-03-2025',
    });

    server.enqueue({ type: 'reply', text: 'x', usage: { inputTokens: 100, outputTokens: 1 } });
    expect((await adapter.complete(ask(), API_KEY)).usage).toEqual({
      inputTokens: 100,
      outputTokens: 1,
      totalTokens: 101,
    });
  });

  it('reports usage Cohere left out as undefined, never 0', async () => {
    const unknown = { inputTokens: undefined, outputTokens: undefined, totalTokens: undefined };
    server.enqueue({ type: 'reply', text: 'x', usage: null });
    expect((await adapter.complete(ask(), API_KEY)).usage).toEqual(unknown);
    server.enqueue({ type: 'reply', text: 'x', usage: null });
    expect((await collectStream(adapter.stream(ask(), API_KEY))).finish?.usage).toEqual(unknown);
  });

  it('honours a retry-after header on a 429, and leaves the delay unknown without one', async () => {
    server.enqueue(cohereErrors.perMinute(17));
    expect(await failure(adapter.complete(ask(), API_KEY))).toMatchObject({
      kind: 'rate_limited',
      status: 429,
      retryAfterMs: 17_000,
    });
    server.enqueue(cohereErrors.perMinute(3));
    expect(await failure(adapter.stream(ask(), API_KEY))).toMatchObject({ kind: 'rate_limited', retryAfterMs: 3000 });
    server.enqueue(cohereErrors.perMinute());
    const error = await failure(adapter.complete(ask(), API_KEY));
    expect(error).toMatchObject({ kind: 'rate_limited', retryAfterMs: undefined });
  });

  it('tells the trial monthly limit (quota_exhausted) from the per-minute one (rate_limited)', async () => {
    server.enqueue(cohereErrors.trialMonthly());
    // Named monthly, so the router keeps the key out until the next quota month, not the next day.
    expect(await failure(adapter.complete(ask(), API_KEY))).toMatchObject({
      kind: 'quota_exhausted',
      status: 429,
      quotaPeriod: 'month',
    });
    server.enqueue(cohereErrors.trialMonthly());
    expect(await failure(adapter.stream(ask(), API_KEY))).toMatchObject({ kind: 'quota_exhausted' });
    server.enqueue(cohereErrors.trialPerMinute());
    expect(await failure(adapter.complete(ask(), API_KEY))).toMatchObject({
      kind: 'rate_limited',
      quotaPeriod: undefined,
    });
  });

  it('sends exactly one HTTP request per call: the SDK does not retry 429s or 5xx', async () => {
    for (const behaviour of [cohereErrors.perMinute(1), cohereErrors.serverError(), cohereErrors.unavailable()]) {
      server.reset();
      // Every request fails, so a retry would show up as a second recorded request.
      server.setHandler(() => behaviour);
      expect(isProviderError(await failure(adapter.complete(ask(), API_KEY)))).toBe(true);
      expect(isProviderError(await failure(adapter.stream(ask(), API_KEY)))).toBe(true);
      expect(server.requests).toHaveLength(2);
    }
  });

  it("maps Cohere's refusals to content_filtered", async () => {
    server.enqueue({ type: 'blocked' });
    expect(await failure(adapter.complete(ask(), API_KEY))).toMatchObject({ kind: 'content_filtered', status: 400 });
    server.enqueue(cohereErrors.blockedOutput());
    expect(await failure(adapter.stream(ask(), API_KEY))).toMatchObject({ kind: 'content_filtered' });
  });

  it('normalizes finish reasons and keeps the raw one', async () => {
    server.enqueue({ type: 'reply', text: 'stop', finishReason: 'STOP_SEQUENCE' });
    expect(await adapter.complete(ask(), API_KEY)).toMatchObject({
      finishReason: 'stop',
      rawFinishReason: 'STOP_SEQUENCE',
    });
    server.enqueue({ type: 'reply', text: 'cut', finishReason: 'MAX_TOKENS' });
    expect((await collectStream(adapter.stream(ask(), API_KEY))).finish).toMatchObject({
      finishReason: 'length',
      rawFinishReason: 'MAX_TOKENS',
    });
    expect(normalizeCohereFinishReason('ERROR_TOXIC')).toBe('content_filter');
    expect(normalizeCohereFinishReason('TOOL_CALL')).toBe('tool_calls');
    expect(normalizeCohereFinishReason('ERROR')).toBe('other');
    expect(normalizeCohereFinishReason('TIMEOUT')).toBe('other');
  });

  it("reads a trial key's call window from a successful answer, and nothing from a bare one", async () => {
    server.enqueue({ type: 'reply', text: 'ok', headers: cohereTrialHeaders({ remaining: 7 }) });
    expect((await adapter.complete(ask(), API_KEY)).rateLimits).toEqual({ requests: { limit: 20, remaining: 7 } });
    server.enqueue({ type: 'reply', text: 'ok', headers: cohereTrialHeaders({ remaining: 6 }) });
    expect((await collectStream(adapter.stream(ask(), API_KEY))).finish?.rateLimits).toEqual({
      requests: { limit: 20, remaining: 6 },
    });
    server.enqueue({ type: 'reply', text: 'ok' });
    expect((await adapter.complete(ask(), API_KEY)).rateLimits).toBeUndefined();
    expect(readCohereRateLimits(new Headers())).toBeUndefined();
  });

  it('keeps the key out of the error message even when the body echoes it', async () => {
    server.enqueue({ type: 'error', status: 401, body: { message: `invalid api token: ${API_KEY}` } });
    const error = await failure(adapter.complete(ask(), API_KEY));
    expect(error).toMatchObject({ kind: 'auth', provider: 'cohere' });
    expect((error as Error).message).not.toContain(API_KEY);
  });
});
