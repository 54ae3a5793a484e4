import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import {
  type ChatRequest,
  isProviderError,
  type ProviderDescriptor,
  type ProviderErrorKind,
} from '../../../providers/types';
import { type Behaviour, type FakeProviderServer, startFakeProviderServer } from '../../fakes/provider-server';
import { collectStream, rejectionOf } from '../../helpers/streams';

/**
 * The behaviour every adapter must show, driven through its real SDK against the fake provider
 * server. Each adapter's test file calls this with the provider's own error bodies.
 */
export interface AdapterContractCase {
  readonly descriptor: ProviderDescriptor;
  /** The fake server's dialect for this provider. */
  readonly dialect: string;
  /** Base URL suffix after the dialect root, when the provider's base URL has a path (`/api/v1`). */
  readonly basePath?: string;
  /** The provider's raw finish reason for "hit the token limit" (default `length`). */
  readonly lengthFinishReason?: string;
  readonly errors: {
    readonly auth: readonly Behaviour[];
    /** A per-minute 429 announcing a retry in `retryAfterMs`. */
    readonly rateLimited: { readonly behaviour: Behaviour; readonly retryAfterMs: number };
    readonly quotaExhausted: readonly Behaviour[];
    readonly serverErrors: readonly Behaviour[];
    readonly contextTooLong: readonly Behaviour[];
    readonly badRequest?: readonly Behaviour[];
  };
}

const TIMEOUT_MS = 400;
const IDLE_TIMEOUT_MS = 300;
/** Slack for timers and the event loop; bounds, not performance measurements. */
const SLACK_MS = 1500;
const API_KEY = 'test-key-0123456789abcdefghijklmnop';

const persianQuestion = 'سلام! امروز ۲۵ آذر است؛ what is 2+2?';
const persianAnswer = 'پاسخ: ۴ (four) — درست است.';

export function describeAdapterContract(testCase: AdapterContractCase): void {
  const { descriptor, dialect } = testCase;
  const lengthReason = testCase.lengthFinishReason ?? 'length';

  describe(`${descriptor.name} adapter through its SDK (contract)`, () => {
    let server: FakeProviderServer;
    let adapter: ReturnType<ProviderDescriptor['create']>;

    beforeAll(async () => {
      server = await startFakeProviderServer();
      adapter = descriptor.create({
        baseUrl: server.url(dialect) + (testCase.basePath ?? ''),
        model: descriptor.defaultModel,
        timeoutMs: TIMEOUT_MS,
        idleTimeoutMs: IDLE_TIMEOUT_MS,
      });
    });
    afterAll(async () => server.stop());
    beforeEach(() => server.reset());

    const request = (overrides: Partial<ChatRequest> = {}): ChatRequest => ({
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'first question' },
        { role: 'assistant', content: 'first answer' },
        { role: 'user', content: persianQuestion },
      ],
      ...overrides,
    });

    async function expectKind(behaviour: Behaviour, kind: ProviderErrorKind, stream = false): Promise<unknown> {
      server.reset();
      server.enqueue(behaviour);
      const error = stream
        ? (await collectStream(adapter.stream(request(), API_KEY))).error
        : await rejectionOf(adapter.complete(request(), API_KEY));
      expect(isProviderError(error)).toBe(true);
      if (!isProviderError(error)) throw error;
      expect({ kind: error.kind, provider: error.provider }).toEqual({ kind, provider: descriptor.name });
      expect(error.message).not.toContain(API_KEY);
      expect(server.requests).toHaveLength(1);
      return error;
    }

    it('answers a plain request: text, usage, model, key and history reach the provider', async () => {
      server.enqueue({ type: 'reply', text: persianAnswer, usage: { inputTokens: 42, outputTokens: 7 } });
      const result = await adapter.complete(request({ maxOutputTokens: 64, temperature: 0.2 }), API_KEY);

      expect(result.text).toBe(persianAnswer);
      expect(result.finishReason).toBe('stop');
      expect(result.usage).toEqual({ inputTokens: 42, outputTokens: 7, totalTokens: 49 });
      expect(result.model).toContain(descriptor.defaultModel);
      expect(result.latencyMs).toBeGreaterThanOrEqual(0);
      expect(server.requests).toHaveLength(1);
      const received = server.requests[0]!;
      expect(received.apiKey).toBe(API_KEY);
      expect(received.model).toBe(descriptor.defaultModel);
      expect(received.messages.map((message) => message.content)).toEqual(
        expect.arrayContaining(['first question', 'first answer', persianQuestion]),
      );
      expect(received.messages.at(-1)).toEqual({ role: 'user', content: persianQuestion });
    });

    it('streams an answer: deltas joined equal the content, usage arrives in the finish event', async () => {
      const chunks = ['پاسخ: ', '۴ ', '(four) ', '— ', 'درست ', 'است.'];
      server.enqueue({ type: 'reply', text: chunks.join(''), chunks, usage: { inputTokens: 30, outputTokens: 6 } });
      const { text, deltas, finish, error } = await collectStream(adapter.stream(request(), API_KEY));

      expect(error).toBeUndefined();
      expect(text).toBe(persianAnswer);
      expect(deltas.length).toBeGreaterThan(1);
      expect(finish?.finishReason).toBe('stop');
      expect(finish?.usage).toEqual({ inputTokens: 30, outputTokens: 6, totalTokens: 36 });
      expect(finish?.timeToFirstTokenMs).toBeGreaterThanOrEqual(0);
      expect(server.requests).toHaveLength(1);
      expect(server.requests[0]!.stream).toBe(true);
    });

    it('reports a truncated answer as finish reason "length"', async () => {
      server.enqueue({ type: 'reply', text: 'cut sho', finishReason: lengthReason });
      const result = await adapter.complete(request(), API_KEY);
      expect(result.finishReason).toBe('length');
      expect(result.rawFinishReason).toBe(lengthReason);
    });

    it('maps invalid or blocked keys to auth', async () => {
      for (const behaviour of testCase.errors.auth) await expectKind(behaviour, 'auth');
    });

    it('maps a per-minute 429 to rate_limited with the announced retry delay', async () => {
      const error = await expectKind(testCase.errors.rateLimited.behaviour, 'rate_limited');
      expect((error as { retryAfterMs?: number }).retryAfterMs).toBeCloseTo(
        testCase.errors.rateLimited.retryAfterMs,
        -1,
      );
    });

    it('maps a daily or monthly quota 429 to quota_exhausted', async () => {
      for (const behaviour of testCase.errors.quotaExhausted) await expectKind(behaviour, 'quota_exhausted');
    });

    it('maps 5xx to transient', async () => {
      for (const behaviour of testCase.errors.serverErrors) await expectKind(behaviour, 'transient');
    });

    it('maps a context-length 400 to context_too_long', async () => {
      for (const behaviour of testCase.errors.contextTooLong) await expectKind(behaviour, 'context_too_long');
    });

    it('maps other 4xx (an unknown model) to bad_request', async () => {
      for (const behaviour of testCase.errors.badRequest ?? []) await expectKind(behaviour, 'bad_request');
    });

    it('maps an HTTP 200 with a garbage body to transient', async () => {
      await expectKind({ type: 'garbage' }, 'transient');
      await expectKind({ type: 'garbage', body: '{"unexpected": true}' }, 'transient');
    });

    it('gives up on a provider that hangs within the attempt timeout, as transient', async () => {
      const started = performance.now();
      const error = await expectKind({ type: 'hang' }, 'transient');
      expect(performance.now() - started).toBeLessThan(TIMEOUT_MS + SLACK_MS);
      expect((error as Error).message).toMatch(/within/);
    });

    it('gives up on a stream that hangs before its first token, as transient', async () => {
      const started = performance.now();
      await expectKind({ type: 'hang' }, 'transient', true);
      expect(performance.now() - started).toBeLessThan(TIMEOUT_MS + SLACK_MS);
    });

    it('detects a stream that stalls mid-way with the idle timer, as transient', async () => {
      server.enqueue({ type: 'stall', text: 'one two three four five', afterChunks: 2 });
      const started = performance.now();
      const { deltas, error } = await collectStream(adapter.stream(request(), API_KEY));
      expect(performance.now() - started).toBeLessThan(IDLE_TIMEOUT_MS + SLACK_MS);
      expect(deltas.join('')).toBe('one two ');
      expect(isProviderError(error) && error.kind).toBe('transient');
      expect((error as Error).message).toMatch(/stalled/);
      expect(server.requests).toHaveLength(1);
    });

    it('reports a stream whose connection is cut mid-way as transient', async () => {
      server.enqueue({ type: 'cut', text: 'one two three four five', afterChunks: 2 });
      const { deltas, error, finish } = await collectStream(adapter.stream(request(), API_KEY));
      expect(deltas.join('')).toBe('one two ');
      expect(finish).toBeUndefined();
      expect(isProviderError(error) && error.kind).toBe('transient');
      expect(server.requests).toHaveLength(1);
    });

    it('stops at once when the caller aborts', async () => {
      server.enqueue({ type: 'hang' });
      const controller = new AbortController();
      // A long attempt timeout: only the caller's abort can end this attempt soon.
      const pending = rejectionOf(adapter.complete(request({ signal: controller.signal, timeoutMs: 60_000 }), API_KEY));
      setTimeout(() => controller.abort(), 50);
      const started = performance.now();
      const error = await pending;
      expect(performance.now() - started).toBeLessThan(10_000);
      expect(isProviderError(error)).toBe(true);
      expect((error as Error).message).toMatch(/cancel/);
    });

    it('ends one attempt through the cancel function it hands over (a hedge that lost), whole or streamed', async () => {
      for (const streamed of [false, true]) {
        server.enqueue({ type: 'hang' });
        let cancel: (() => void) | undefined;
        const attemptRequest = request({ timeoutMs: 60_000, onCancelable: (given) => (cancel = given) });
        const pending = streamed
          ? collectStream(adapter.stream(attemptRequest, API_KEY)).then(({ error }) => error)
          : rejectionOf(adapter.complete(attemptRequest, API_KEY));
        // Handed over as the attempt starts, before anything arrives.
        while (cancel === undefined) await new Promise((resolve) => setImmediate(resolve));
        const started = performance.now();
        cancel();
        const error = await pending;
        expect(performance.now() - started).toBeLessThan(10_000);
        expect(isProviderError(error) && error.kind).toBe('transient');
      }
    });

    it('sends each key as given and keeps keys apart', async () => {
      await adapter.complete(request(), 'key-number-one-aaaaaaaaaa');
      await adapter.complete(request(), 'key-number-two-bbbbbbbbbb');
      expect(server.requests.map((received) => received.apiKey)).toEqual([
        'key-number-one-aaaaaaaaaa',
        'key-number-two-bbbbbbbbbb',
      ]);
    });
  });
}
