import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import {
  geminiProvider,
  normalizeGeminiFinishReason,
  quotaPeriodOf,
  retryDelayOf,
  toGeminiPrompt,
} from '../../../providers/gemini';
import { type ChatMessage, type ChatRequest, isProviderError } from '../../../providers/types';
import { type FakeProviderServer, startFakeProviderServer } from '../../fakes/provider-server';
import { geminiErrors } from '../../fakes/provider-server/errors-gemini';
import { collectStream, rejectionOf } from '../../helpers/streams';
import { describeAdapterContract } from './adapter-contract';

describeAdapterContract({
  descriptor: geminiProvider,
  dialect: 'gemini',
  lengthFinishReason: 'MAX_TOKENS',
  errors: {
    auth: [geminiErrors.invalidKey(), geminiErrors.keyBlocked()],
    rateLimited: { behaviour: geminiErrors.requestsPerMinute('38s'), retryAfterMs: 38_000 },
    quotaExhausted: [geminiErrors.requestsPerDay()],
    serverErrors: [geminiErrors.internal(), geminiErrors.overloaded()],
    contextTooLong: [geminiErrors.contextTooLong()],
    badRequest: [geminiErrors.modelNotFound(), geminiErrors.invalidArgument(), geminiErrors.locationNotSupported()],
  },
});

describe('gemini adapter specifics', () => {
  const API_KEY = 'AIzaSyFakeKey0123456789abcdefghijklmno';
  let server: FakeProviderServer;
  const adapter = () =>
    geminiProvider.create({
      baseUrl: server.url('gemini'),
      model: 'gemini-2.5-flash',
      timeoutMs: 2000,
      idleTimeoutMs: 2000,
    });
  const ask = (content: string, overrides: Partial<ChatRequest> = {}): ChatRequest => ({
    messages: [{ role: 'user', content }],
    ...overrides,
  });

  beforeAll(async () => {
    server = await startFakeProviderServer();
  });
  afterAll(async () => server.stop());
  beforeEach(() => server.reset());

  const lastBody = () => server.requests.at(-1)?.body as Record<string, unknown>;

  it('sends every system message as one systemInstruction, never as a turn', async () => {
    await adapter().complete(
      {
        messages: [
          { role: 'system', content: 'You are terse.' },
          { role: 'user', content: 'hi' },
          { role: 'system', content: 'Answer in Persian.' },
        ],
      },
      API_KEY,
    );
    const body = lastBody();
    expect(body.systemInstruction).toEqual({
      role: 'system',
      parts: [{ text: 'You are terse.\n\nAnswer in Persian.' }],
    });
    expect(body.contents).toEqual([{ role: 'user', parts: [{ text: 'hi' }] }]);
    expect(server.requests[0]!.path).toBe('/v1beta/models/gemini-2.5-flash:generateContent');
    expect(server.requests[0]!.headers['x-goog-api-key']).toBe(API_KEY);
  });

  it('leaves systemInstruction out when there is no system message', async () => {
    await adapter().complete(ask('hi'), API_KEY);
    expect(lastBody()).not.toHaveProperty('systemInstruction');
  });

  it('maps roles to user/model, merges consecutive turns, drops model turns before the first user turn', async () => {
    const messages: ChatMessage[] = [
      { role: 'assistant', content: 'left over from a trimmed exchange' },
      { role: 'user', content: 'a' },
      { role: 'user', content: 'b' },
      { role: 'assistant', content: 'c' },
      { role: 'assistant', content: '' },
      { role: 'assistant', content: 'd' },
      { role: 'user', content: 'e' },
    ];
    const before = structuredClone(messages);
    await adapter().complete({ messages }, API_KEY);
    expect(lastBody().contents).toEqual([
      { role: 'user', parts: [{ text: 'a\n\nb' }] },
      { role: 'model', parts: [{ text: 'c\n\nd' }] },
      { role: 'user', parts: [{ text: 'e' }] },
    ]);
    expect(server.requests[0]!.messages).toEqual([
      { role: 'user', content: 'a\n\nb' },
      { role: 'assistant', content: 'c\n\nd' },
      { role: 'user', content: 'e' },
    ]);
    expect(messages).toEqual(before);
  });

  it('builds the same prompt without the network, and refuses a request with no user turn before sending it', async () => {
    expect(toGeminiPrompt([{ role: 'assistant', content: 'x' }])).toEqual({
      systemInstruction: undefined,
      contents: [],
    });
    const error = await rejectionOf(
      adapter().complete(
        {
          messages: [
            { role: 'system', content: 's' },
            { role: 'assistant', content: 'x' },
          ],
        },
        API_KEY,
      ),
    );
    expect(error).toMatchObject({ kind: 'bad_request', provider: 'gemini' });
    const streamed = await collectStream(adapter().stream({ messages: [{ role: 'system', content: 's' }] }, API_KEY));
    expect(streamed.error).toMatchObject({ kind: 'bad_request' });
    expect(server.requests).toHaveLength(0);
  });

  it('sends JSON mode as responseMimeType, with the output limit and temperature in generationConfig', async () => {
    server.enqueue({ type: 'reply', text: '{"ok":true}' });
    const result = await adapter().complete(
      ask('json', { json: true, maxOutputTokens: 99, temperature: 0.3 }),
      API_KEY,
    );
    expect(result.text).toBe('{"ok":true}');
    expect(lastBody().generationConfig).toEqual({
      responseMimeType: 'application/json',
      maxOutputTokens: 99,
      temperature: 0.3,
    });
    await adapter().complete(ask('plain'), API_KEY);
    expect(lastBody().generationConfig).toEqual({});
  });

  it('streams from streamGenerateContent?alt=sse and uses the model a request names', async () => {
    server.enqueue({ type: 'reply', text: 'one two three', model: 'gemini-2.5-flash-lite-preview-06-17' });
    const { text, finish } = await collectStream(
      adapter().stream(ask('hi', { model: 'gemini-2.5-flash-lite' }), API_KEY),
    );
    expect(text).toBe('one two three');
    expect(server.requests[0]!.path).toBe('/v1beta/models/gemini-2.5-flash-lite:streamGenerateContent?alt=sse');
    expect(finish).toMatchObject({ finishReason: 'stop', rawFinishReason: 'STOP', rateLimits: undefined });
    expect(finish?.model).toBe('gemini-2.5-flash-lite-preview-06-17');
  });

  it('reports a blocked prompt (HTTP 200, promptFeedback.blockReason) as content_filtered', async () => {
    server.enqueue({ type: 'blocked' });
    const error = await rejectionOf(adapter().complete(ask('something awful'), API_KEY));
    expect(error).toMatchObject({ kind: 'content_filtered', provider: 'gemini' });
    expect((error as Error).message).toMatch(/SAFETY/);

    server.enqueue({ type: 'blocked' });
    const streamed = await collectStream(adapter().stream(ask('something awful'), API_KEY));
    expect(streamed.error).toMatchObject({ kind: 'content_filtered' });
    expect(streamed.deltas).toEqual([]);
    expect(server.requests).toHaveLength(2);
  });

  it('reports a SAFETY finish with no text as content_filtered, in both modes', async () => {
    server.enqueue({ type: 'reply', text: '', finishReason: 'SAFETY' });
    expect(await rejectionOf(adapter().complete(ask('x'), API_KEY))).toMatchObject({ kind: 'content_filtered' });
    server.enqueue({ type: 'reply', text: '', finishReason: 'SAFETY' });
    const streamed = await collectStream(adapter().stream(ask('x'), API_KEY));
    expect(streamed.error).toMatchObject({ kind: 'content_filtered' });
  });

  it('keeps the text of an answer cut short for safety, with finish reason content_filter', async () => {
    server.enqueue({ type: 'reply', text: 'the first half', finishReason: 'SAFETY' });
    const result = await adapter().complete(ask('x'), API_KEY);
    expect(result).toMatchObject({ text: 'the first half', finishReason: 'content_filter', rawFinishReason: 'SAFETY' });
    server.enqueue({ type: 'reply', text: 'the first half', finishReason: 'RECITATION' });
    const streamed = await collectStream(adapter().stream(ask('x'), API_KEY));
    expect(streamed.text).toBe('the first half');
    expect(streamed.finish).toMatchObject({ finishReason: 'content_filter', rawFinishReason: 'RECITATION' });
  });

  it('tells a per-day quota from per-minute limits by the QuotaFailure quotaId', async () => {
    const kindOf = async (behaviour: Parameters<FakeProviderServer['enqueue']>[0]) => {
      server.enqueue(behaviour);
      return rejectionOf(adapter().complete(ask('x'), API_KEY));
    };
    const perDay = await kindOf(geminiErrors.requestsPerDay('21s'));
    expect(perDay).toMatchObject({ kind: 'quota_exhausted', status: 429 });
    // The short delay of a per-day 429 is not when the quota returns: the router waits for the reset.
    expect((perDay as { retryAfterMs?: number }).retryAfterMs).toBeUndefined();
    expect(await kindOf(geminiErrors.requestsPerMinute('7s'))).toMatchObject({
      kind: 'rate_limited',
      retryAfterMs: 7000,
    });
    expect(await kindOf(geminiErrors.inputTokensPerMinute('12s'))).toMatchObject({
      kind: 'rate_limited',
      retryAfterMs: 12_000,
    });
    // The older body has no details at all: a plain rate limit.
    expect(await kindOf(geminiErrors.resourceExhausted())).toMatchObject({ kind: 'rate_limited' });

    server.enqueue(geminiErrors.requestsPerDay());
    const { error } = await collectStream(adapter().stream(ask('x'), API_KEY));
    expect(error).toMatchObject({ kind: 'quota_exhausted' });
  });

  it('parses RetryInfo.retryDelay ("38s", "38.2s") and keeps the error message readable', async () => {
    server.enqueue(geminiErrors.requestsPerMinute('38.2s'));
    const error = await rejectionOf(adapter().complete(ask('x'), API_KEY));
    expect(error).toMatchObject({ kind: 'rate_limited', retryAfterMs: 38_200, rateLimits: undefined });
    expect((error as Error).message).toMatch(/^gemini 429 rate_limited: You exceeded your current quota/);
    expect((error as Error).message).not.toMatch(/type\.googleapis\.com|127\.0\.0\.1/);

    expect(retryDelayOf([{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '38s' }])).toBe(38_000);
    expect(retryDelayOf([{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '0.5s' }])).toBe(500);
    expect(retryDelayOf([{ reason: 'API_KEY_INVALID' }, null, 'junk'])).toBeUndefined();
    expect(quotaPeriodOf([{ violations: [{ quotaId: 'GenerateRequestsPerDayPerProjectPerModel-FreeTier' }] }])).toBe(
      'day',
    );
    expect(quotaPeriodOf([{ violations: 'not a list' }, null])).toBeUndefined();
  });

  it('redacts a key that Gemini echoes in a 403, from the message and from the cause', async () => {
    server.enqueue(geminiErrors.consumerSuspended(API_KEY));
    const error = await rejectionOf(adapter().complete(ask('x'), API_KEY));
    expect(error).toMatchObject({ kind: 'auth', status: 403 });
    expect((error as Error).message).toMatch(/has been suspended/);
    expect((error as Error).message).not.toContain(API_KEY);
    expect(String((error as Error).cause)).not.toContain(API_KEY);
  });

  it('classifies an error event inside the stream by its code', async () => {
    server.enqueue({
      type: 'error-in-body',
      text: 'one two three',
      afterChunks: 2,
      body: {
        error: { code: 503, message: 'The model is overloaded. Please try again later.', status: 'UNAVAILABLE' },
      },
    });
    const { deltas, error, finish } = await collectStream(adapter().stream(ask('x'), API_KEY));
    expect(deltas.join('')).toBe('one two ');
    expect(finish).toBeUndefined();
    expect(error).toMatchObject({ kind: 'transient', status: 503 });
  });

  it('reports a stream that ends cleanly without a finish reason as transient', async () => {
    server.enqueue({ type: 'error-in-body', text: 'one two', afterChunks: 2, body: { candidates: [] } });
    const { error } = await collectStream(adapter().stream(ask('x'), API_KEY));
    expect(isProviderError(error) && error.kind).toBe('transient');
    expect((error as Error).message).toMatch(/without a finish reason/);
  });

  it('leaves usage it was not told undefined, and counts thinking tokens as output', async () => {
    server.enqueue({ type: 'reply', text: 'no usage', usage: null });
    const bare = await adapter().complete(ask('x'), API_KEY);
    expect(bare.usage).toEqual({ inputTokens: undefined, outputTokens: undefined, totalTokens: undefined });

    server.setHandler(() => ({
      type: 'error-in-body',
      body: {
        candidates: [{ content: { parts: [{ text: 'ok' }], role: 'model' }, finishReason: 'STOP', index: 0 }],
        usageMetadata: { promptTokenCount: 10, candidatesTokenCount: 2, thoughtsTokenCount: 30, totalTokenCount: 42 },
        modelVersion: 'gemini-2.5-flash',
      },
    }));
    const thinking = await adapter().complete(ask('x'), API_KEY);
    expect(thinking.usage).toEqual({ inputTokens: 10, outputTokens: 32, totalTokens: 42 });
  });

  it('normalizes Gemini finish reasons', () => {
    expect(normalizeGeminiFinishReason('STOP')).toBe('stop');
    expect(normalizeGeminiFinishReason('MAX_TOKENS')).toBe('length');
    for (const raw of ['SAFETY', 'RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII']) {
      expect(normalizeGeminiFinishReason(raw)).toBe('content_filter');
    }
    expect(normalizeGeminiFinishReason('MALFORMED_FUNCTION_CALL')).toBe('other');
    expect(normalizeGeminiFinishReason(undefined)).toBe('other');
  });

  it('leaves no timer running after a call: the SDK timeout option is never used', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;
    const before = timers();
    await adapter().complete(ask('x'), API_KEY);
    await collectStream(adapter().stream(ask('x'), API_KEY));
    server.enqueue(geminiErrors.overloaded());
    await rejectionOf(adapter().complete(ask('x'), API_KEY));
    expect(timers()).toBeLessThanOrEqual(before);
  });
});
