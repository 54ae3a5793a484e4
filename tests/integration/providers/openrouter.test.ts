import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { openRouterProvider, readOpenRouterRateLimits } from '../../../providers/openrouter';
import type { ChatRequest } from '../../../providers/types';
import { type FakeProviderServer, startFakeProviderServer } from '../../fakes/provider-server';
import {
  nextUtcMidnight,
  openRouterErrors,
  openRouterRateLimitHeaders,
} from '../../fakes/provider-server/errors-openrouter';
import { collectStream, rejectionOf } from '../../helpers/streams';
import { describeAdapterContract } from './adapter-contract';

describeAdapterContract({
  descriptor: openRouterProvider,
  dialect: 'openrouter',
  basePath: '/api/v1',
  errors: {
    auth: [openRouterErrors.invalidKey(), openRouterErrors.userNotFound()],
    rateLimited: { behaviour: openRouterErrors.upstreamRateLimited(17), retryAfterMs: 17_000 },
    quotaExhausted: [openRouterErrors.freeModelsPerDay(), openRouterErrors.freeModelsPerDayIn200()],
    serverErrors: [openRouterErrors.serverError(), openRouterErrors.badGateway(), openRouterErrors.unavailable()],
    contextTooLong: [openRouterErrors.contextTooLong(), openRouterErrors.upstreamContextTooLong()],
    badRequest: [openRouterErrors.modelNotFound(), openRouterErrors.invalidModelId()],
  },
});

describe('openrouter adapter specifics', () => {
  /** A fixed clock, so epoch-millisecond resets turn into exact delays. */
  const NOW = Date.UTC(2026, 2, 14, 21, 15, 30);
  const KEY = 'sk-or-v1-fake0123456789abcdefghijklmnop';
  let server: FakeProviderServer;
  const ask = (overrides: Partial<ChatRequest> = {}): ChatRequest => ({
    messages: [{ role: 'user', content: 'hi' }],
    ...overrides,
  });
  const adapter = () =>
    openRouterProvider.create({
      baseUrl: `${server.url('openrouter')}/api/v1`,
      model: 'meta-llama/llama-3.3-70b-instruct:free',
      timeoutMs: 2000,
      idleTimeoutMs: 2000,
      now: () => NOW,
    });

  beforeAll(async () => {
    server = await startFakeProviderServer();
  });
  afterAll(async () => server.stop());
  beforeEach(() => server.reset());

  it('reads the request window, converting the epoch-millisecond reset with the clock', async () => {
    server.enqueue({
      type: 'reply',
      text: 'ok',
      headers: openRouterRateLimitHeaders({ limit: 20, remaining: 12, resetAt: NOW + 42_000 }),
    });
    const result = await adapter().complete(ask(), KEY);
    expect(result.rateLimits).toEqual({ requests: { limit: 20, remaining: 12, resetAfterMs: 42_000 } });
    expect(server.requests[0]?.path).toBe('/api/v1/chat/completions');
    expect(server.requests[0]?.apiKey).toBe(KEY);
  });

  it('reads the same window from a streamed answer', async () => {
    server.enqueue({
      type: 'reply',
      text: 'a b',
      headers: openRouterRateLimitHeaders({ limit: 50, remaining: 3, resetAt: NOW + 1000 }),
    });
    const { finish } = await collectStream(adapter().stream(ask(), KEY));
    expect(finish?.rateLimits).toEqual({ requests: { limit: 50, remaining: 3, resetAfterMs: 1000 } });
  });

  it('maps the per-minute free-model 429 to rate_limited, waiting until the announced reset', async () => {
    server.enqueue(openRouterErrors.freeModelsPerMinute(NOW + 23_500));
    const { error } = await collectStream(adapter().stream(ask(), KEY));
    expect(error).toMatchObject({
      kind: 'rate_limited',
      status: 429,
      retryAfterMs: 23_500,
      rateLimits: { requests: { limit: 20, remaining: 0, resetAfterMs: 23_500 } },
    });
  });

  it('maps the daily free-model 429 to quota_exhausted, reading the reset from the body metadata', async () => {
    const midnight = nextUtcMidnight(NOW);
    server.enqueue(openRouterErrors.freeModelsPerDay(midnight));
    const error = await rejectionOf(adapter().complete(ask(), KEY));
    expect(error).toMatchObject({
      kind: 'quota_exhausted',
      status: 429,
      retryAfterMs: midnight - NOW,
      rateLimits: { requests: { limit: 50, remaining: 0, resetAfterMs: midnight - NOW } },
    });
  });

  it('reads an error inside an HTTP 200 body, with the status it names', async () => {
    server.enqueue(openRouterErrors.freeModelsPerDayIn200(nextUtcMidnight(NOW)));
    const error = await rejectionOf(adapter().complete(ask(), KEY));
    expect(error).toMatchObject({
      name: 'ProviderError',
      kind: 'quota_exhausted',
      provider: 'openrouter',
      status: 429,
    });
    expect(server.requests).toHaveLength(1);
  });

  it('reads an SSE error event mid-stream, after delivering the text streamed before it', async () => {
    server.enqueue(openRouterErrors.providerDisconnectedMidStream('one two three four', 2));
    const dropped = await collectStream(adapter().stream(ask(), KEY));
    expect(dropped.deltas).toEqual(['one ', 'two ']);
    expect(dropped.finish).toBeUndefined();
    expect(dropped.error).toMatchObject({ name: 'ProviderError', kind: 'transient', provider: 'openrouter' });
    expect((dropped.error as Error).message).toMatch(/Provider disconnected unexpectedly/);

    server.enqueue(openRouterErrors.rateLimitedMidStream('one two three', 1));
    const limited = await collectStream(adapter().stream(ask(), KEY));
    expect(limited.deltas).toEqual(['one ']);
    expect(limited.error).toMatchObject({ kind: 'rate_limited', status: 429 });
  });

  it('maps a 402 (no credits left) to quota_exhausted', async () => {
    server.enqueue(openRouterErrors.insufficientCredits());
    const error = await rejectionOf(adapter().complete(ask(), KEY));
    expect(error).toMatchObject({ kind: 'quota_exhausted', status: 402 });
  });

  it('maps a 403 moderation refusal to content_filtered, not auth', async () => {
    server.enqueue(openRouterErrors.moderationFlagged());
    const error = await rejectionOf(adapter().complete(ask(), KEY));
    expect(error).toMatchObject({ kind: 'content_filtered', status: 403 });
    server.enqueue({ type: 'blocked' });
    const { error: streamed } = await collectStream(adapter().stream(ask(), KEY));
    expect(streamed).toMatchObject({ kind: 'content_filtered', status: 403 });
  });

  it('classifies an upstream refusal by metadata.raw but keeps that text out of the message', async () => {
    server.enqueue(openRouterErrors.upstreamContextTooLong());
    const error = await rejectionOf(adapter().complete(ask(), KEY));
    expect(error).toMatchObject({ kind: 'context_too_long', status: 400 });
    expect((error as Error).message).toContain('Provider returned error');
    expect((error as Error).message).not.toContain('65536');
  });

  it('asks for stream usage and finds it in the final chunk with empty choices', async () => {
    server.enqueue({ type: 'reply', text: 'a b c', usage: { inputTokens: 3, outputTokens: 3 } });
    const { finish, text } = await collectStream(adapter().stream(ask(), KEY));
    expect(text).toBe('a b c');
    expect(finish?.usage).toEqual({ inputTokens: 3, outputTokens: 3, totalTokens: 6 });
    expect(server.requests[0]?.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
  });

  it('sends JSON mode and the output limit as max_tokens, and no OpenAI organization headers', async () => {
    const saved = { org: process.env.OPENAI_ORG_ID, project: process.env.OPENAI_PROJECT_ID };
    process.env.OPENAI_ORG_ID = 'org-should-not-leak';
    process.env.OPENAI_PROJECT_ID = 'proj-should-not-leak';
    try {
      server.enqueue({ type: 'reply', text: '{"ok":true}' });
      await adapter().complete(ask({ json: true, maxOutputTokens: 99 }), KEY);
    } finally {
      restoreEnv('OPENAI_ORG_ID', saved.org);
      restoreEnv('OPENAI_PROJECT_ID', saved.project);
    }
    const received = server.requests[0]!;
    expect(received.body).toMatchObject({ response_format: { type: 'json_object' }, max_tokens: 99 });
    expect(received.body).not.toHaveProperty('max_completion_tokens');
    expect(received.body).not.toHaveProperty('stream_options');
    expect(received.headers['openai-organization']).toBeUndefined();
    expect(received.headers['openai-project']).toBeUndefined();
  });

  it('makes exactly one request per call: no SDK retry after a 500 or a 429', async () => {
    server.enqueue(openRouterErrors.serverError());
    await rejectionOf(adapter().complete(ask(), KEY));
    server.enqueue(openRouterErrors.upstreamRateLimited(0));
    await rejectionOf(adapter().complete(ask(), KEY));
    expect(server.requests).toHaveLength(2);
  });

  it('parses rate-limit headers: none → undefined, epoch seconds tolerated, past resets clamp to 0', () => {
    expect(readOpenRouterRateLimits(new Headers(), NOW)).toBeUndefined();
    expect(
      readOpenRouterRateLimits(
        { 'X-RateLimit-Limit': '20', 'X-RateLimit-Remaining': '0', 'X-RateLimit-Reset': String(NOW / 1000 + 5) },
        NOW,
      ),
    ).toEqual({ requests: { limit: 20, remaining: 0, resetAfterMs: 5000 } });
    expect(readOpenRouterRateLimits({ 'x-ratelimit-limit': '20', 'x-ratelimit-reset': String(NOW - 10) }, NOW)).toEqual(
      { requests: { limit: 20, remaining: undefined, resetAfterMs: 0 } },
    );
  });
});

function restoreEnv(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}
