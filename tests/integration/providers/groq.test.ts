import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { groqProvider, readGroqRateLimits } from '../../../providers/groq';
import { startFakeProviderServer, type FakeProviderServer } from '../../fakes/provider-server';
import { groqErrors, groqRateLimitHeaders } from '../../fakes/provider-server/errors-groq';
import { collectStream } from '../../helpers/streams';
import { describeAdapterContract } from './adapter-contract';

describeAdapterContract({
  descriptor: groqProvider,
  dialect: 'groq',
  errors: {
    auth: [groqErrors.invalidKey(), groqErrors.forbidden()],
    rateLimited: { behaviour: groqErrors.tokensPerMinute(5), retryAfterMs: 5000 },
    quotaExhausted: [groqErrors.tokensPerDay()],
    serverErrors: [groqErrors.serverError(), groqErrors.unavailable()],
    contextTooLong: [groqErrors.contextTooLong(), groqErrors.requestTooLarge()],
    badRequest: [groqErrors.modelNotFound()],
  },
});

describe('groq adapter specifics', () => {
  let server: FakeProviderServer;
  const adapter = () =>
    groqProvider.create({
      baseUrl: server.url('groq'),
      model: 'llama-3.1-8b-instant',
      timeoutMs: 2000,
      idleTimeoutMs: 2000,
    });

  beforeAll(async () => {
    server = await startFakeProviderServer();
  });
  afterAll(async () => server.stop());

  it('reads the daily request window and the per-minute token window from a successful answer', async () => {
    server.enqueue({
      type: 'reply',
      text: 'ok',
      headers: groqRateLimitHeaders({ requestsLeftToday: 99, tokensLeftThisMinute: 5000 }),
    });
    const result = await adapter().complete({ messages: [{ role: 'user', content: 'hi' }] }, 'gsk_fake');
    expect(result.rateLimits).toEqual({
      requestsPerDay: { limit: 14400, remaining: 99, resetAfterMs: 179_560 },
      tokensPerMinute: { limit: 6000, remaining: 5000, resetAfterMs: 7660 },
    });
  });

  it('keeps the rate-limit headers of a 429 on the error', async () => {
    server.enqueue(groqErrors.tokensPerMinute(5));
    const { error } = await collectStream(
      adapter().stream({ messages: [{ role: 'user', content: 'hi' }] }, 'gsk_fake'),
    );
    expect(error).toMatchObject({
      kind: 'rate_limited',
      retryAfterMs: 5000,
      rateLimits: { tokensPerMinute: { remaining: 0 } },
    });
  });

  it('sends JSON mode, the output limit as max_completion_tokens, and no stream_options', async () => {
    server.enqueue({ type: 'reply', text: '{"ok":true}' });
    await adapter().complete(
      { messages: [{ role: 'user', content: 'json' }], json: true, maxOutputTokens: 99 },
      'gsk_fake',
    );
    server.enqueue({ type: 'reply', text: 'streamed' });
    await collectStream(adapter().stream({ messages: [{ role: 'user', content: 'stream' }] }, 'gsk_fake'));
    const [plain, streamed] = server.requests.slice(-2);
    expect(plain?.body).toMatchObject({ response_format: { type: 'json_object' }, max_completion_tokens: 99 });
    expect(streamed?.body).not.toHaveProperty('stream_options');
  });

  it('keeps a Qwen 3 model’s thinking out of the answer (reasoning_format hidden), and asks no other model so', async () => {
    const vision = groqProvider.roles?.vision?.defaultModel ?? '';
    expect(vision.startsWith('qwen/qwen3')).toBe(true);
    server.enqueue({ type: 'reply', text: 'یک گربه' });
    await adapter().complete({ model: vision, messages: [{ role: 'user', content: 'چه می‌بینی؟' }] }, 'gsk_fake');
    server.enqueue({ type: 'reply', text: 'streamed' });
    await collectStream(adapter().stream({ model: vision, messages: [{ role: 'user', content: 'hi' }] }, 'gsk_fake'));
    server.enqueue({ type: 'reply', text: 'plain' });
    await adapter().complete({ messages: [{ role: 'user', content: 'hi' }] }, 'gsk_fake');
    const [qwen, qwenStreamed, other] = server.requests.slice(-3);
    expect(qwen?.body).toMatchObject({ model: vision, reasoning_format: 'hidden' });
    expect(qwenStreamed?.body).toMatchObject({ model: vision, reasoning_format: 'hidden', stream: true });
    expect(other?.body).not.toHaveProperty('reasoning_format');
  });

  it('finds streaming usage in x_groq.usage of the last chunk', async () => {
    server.enqueue({ type: 'reply', text: 'a b c', usage: { inputTokens: 3, outputTokens: 3 } });
    const { finish } = await collectStream(
      adapter().stream({ messages: [{ role: 'user', content: 'hi' }] }, 'gsk_fake'),
    );
    expect(finish?.usage).toEqual({ inputTokens: 3, outputTokens: 3, totalTokens: 6 });
  });

  it('parses headers with no rate-limit information as undefined', () => {
    expect(readGroqRateLimits(new Headers())).toBeUndefined();
  });
});
