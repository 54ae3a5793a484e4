import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { en } from '../../bot/locales/en';
import { keyIdFor } from '../../providers/router/router';
import {
  type Behaviour,
  type FakeProviderServer,
  type Handler,
  type RecordedRequest,
  startFakeProviderServer,
} from '../fakes/provider-server';
import { groqErrors } from '../fakes/provider-server/errors';
import { cerebrasErrors } from '../fakes/provider-server/errors-cerebras';
import { cohereErrors } from '../fakes/provider-server/errors-cohere';
import { geminiErrors } from '../fakes/provider-server/errors-gemini';
import { openRouterErrors } from '../fakes/provider-server/errors-openrouter';
import { type FakeTelegramServer, startFakeTelegramServer, type UserInput } from '../fakes/telegram-server';
import {
  botEnv,
  crashRecords,
  keyEnv,
  type ProviderName,
  startPollingBot,
  suspiciousTexts,
  turnsOf,
} from '../helpers/bot-harness';
import type { BotProcess } from '../helpers/bot-process';
import { startTestRedis, type TestRedis } from '../helpers/redis-server';
import { connectInspector, storedTurns } from '../helpers/stored-history';

/** This suite's own keys: the cool-downs and blocks it leaves in Redis are its own to clear. */
const SUITE_KEYS: Readonly<Record<ProviderName, string>> = {
  groq: 'gsk_faultsGroqKey000000000000000000000F1',
  cerebras: 'csk-faultsCerebrasKey000000000000000000F2',
  gemini: 'AIzaFaultsGeminiKey000000000000F3',
  openrouter: 'sk-or-v1-faultsOpenRouterKey0000000000F4',
  cohere: 'faultsCohereKey0000000000000000000000F5',
};
const SECOND_GROQ_KEY = 'gsk_faultsGroqKey000000000000000000000F6';
const PROVIDERS: readonly ProviderName[] = ['groq', 'cerebras', 'gemini', 'openrouter', 'cohere'];
const QUOTA_BUSY = /^All my free AI quota is busy right now\. Please try again in about \d+ min\.$/;
type Presets = Readonly<Record<ProviderName, () => Behaviour>>;

/** Every provider answers, saying who it is. */
const answering = (request: RecordedRequest): Behaviour => ({
  type: 'reply',
  text: `${request.dialect}: ${request.messages.at(-1)?.content ?? ''}`,
});

/** Every provider fails, each in its own wire format. */
const failing =
  (presets: Presets): Handler =>
  (request) =>
    presets[request.dialect as ProviderName]();

/**
 * Each class of provider failure of the taxonomy, alone and all at once, through the built bot
 * with five providers (Groq with two keys), Redis-backed history, in streamed and whole answers.
 * For each: the user gets an answer from the next key or provider the taxonomy calls for, or one
 * clear message that names the right cause (quota, outage, too long, safety); the bot keeps
 * running; and the conversation as stored holds every answered exchange once and nothing of a
 * failed one.
 */
describe.each([
  { mode: 'streamed', streamReplies: 'true' },
  { mode: 'whole', streamReplies: 'false' },
])('provider failures ($mode answers)', ({ streamReplies }) => {
  let redis: TestRedis;
  let inspector: Redis;
  let telegram: FakeTelegramServer;
  let providers: FakeProviderServer;
  let bot: BotProcess;
  let nextUserId = streamReplies === 'true' ? 7100 : 7200;

  beforeAll(async () => {
    [redis, telegram, providers] = await Promise.all([
      startTestRedis(),
      startFakeTelegramServer(),
      startFakeProviderServer(),
    ]);
    inspector = await connectInspector(redis.url);
    bot = await startPollingBot(
      telegram,
      botEnv(telegram, providers, PROVIDERS, {
        ...keyEnv(SUITE_KEYS),
        GROQ_API_KEY_2: SECOND_GROQ_KEY,
        REDIS_URL: redis.url,
        STREAM_REPLIES: streamReplies,
        RATE_LIMIT_PER_MINUTE: '0',
        ATTEMPT_TIMEOUT_MS: '600',
        FIRST_TOKEN_TIMEOUT_MS: '600',
        STREAM_IDLE_TIMEOUT_MS: '600',
        REQUEST_DEADLINE_MS: '6000',
        // Each case starts with every provider closed: a hang opens a breaker at once, by design.
        BREAKER_FAILURE_THRESHOLD: '50',
        BREAKER_OPEN_MS: '1',
      }),
    );
  });
  afterAll(async () => {
    await bot?.stop();
    inspector?.disconnect();
    await Promise.all([telegram?.stop(), providers?.stop(), redis?.stop()]);
  });
  beforeEach(async () => {
    // Key cool-downs, quota blocks and counters live in Redis: each case starts from a fresh pool.
    const keyIds = [...PROVIDERS.map((name) => keyIdFor(name, SUITE_KEYS[name])), keyIdFor('groq', SECOND_GROQ_KEY)];
    const stale = (await Promise.all(keyIds.map((keyId) => inspector.keys(`sb:{quota}:${keyId}:*`)))).flat();
    if (stale.length > 0) await inspector.del(...stale);
    providers.reset();
    providers.setHandler(answering);
  });

  /** Sends `text`, then /help as a fence (one chat is handled in order), and returns what the bot said for `text`. */
  async function outcomeOf(from: UserInput, text: string): Promise<string[]> {
    const before = telegram.messagesIn(from.id).length;
    const since = telegram.mark();
    telegram.sendText(from, text);
    telegram.sendText(from, '/help');
    const help = await telegram.waitForMessage(from.id, (message) => message.text === en.help, {
      since,
      timeoutMs: 15_000,
    });
    return telegram
      .messagesIn(from.id)
      .slice(before)
      .filter((message) => message.message_id !== help.message_id)
      .map((message) => message.text);
  }

  interface Outcome {
    /** What the bot said to the question. */
    readonly messages: string[];
    /** The provider requests the question caused, in order. */
    readonly requests: RecordedRequest[];
    /** The conversation as stored in Redis afterwards, as `role: content`. */
    readonly history: string[];
  }

  /**
   * A conversation with one answered exchange, then `arrange` sets up the failure and the
   * question is asked. Checks what every case shares: every attempt carried the earlier exchange
   * exactly once, and the stored conversation has that exchange and, if the question was
   * answered, the question and its answer — once each, nothing of a failed attempt.
   */
  async function ask(arrange: () => void): Promise<Outcome> {
    const user = { id: nextUserId++, first_name: 'Tess', language_code: 'en' };
    expect(await outcomeOf(user, 'first question')).toEqual(['groq: first question']);
    providers.reset();
    providers.setHandler(answering);
    arrange();

    const messages = await outcomeOf(user, 'the question');
    const requests = [...providers.requests];
    const history = await storedTurns(inspector, `u:${user.id}`);

    const earlier = ['user: first question', 'assistant: groq: first question'];
    for (const request of requests) expect(turnsOf(request)).toEqual([...earlier, 'user: the question']);
    const answer =
      messages.length === 1 && requests.some((request) => messages[0] === `${request.dialect}: the question`);
    expect(history).toEqual(answer ? [...earlier, 'user: the question', `assistant: ${messages[0]}`] : earlier);
    return { messages, requests, history };
  }

  const dialects = (requests: readonly RecordedRequest[]): string[] => requests.map((request) => request.dialect);
  const keysOf = (requests: readonly RecordedRequest[]): (string | undefined)[] =>
    requests.map((request) => request.apiKey);

  describe('one failure: the next key or provider answers', () => {
    it.each([
      ['auth: 401 invalid key', () => groqErrors.invalidKey()],
      ['auth: 403 forbidden', () => groqErrors.forbidden()],
      ['rate_limited: 429 with retry-after', () => groqErrors.tokensPerMinute(60)],
      ['quota_exhausted: 429 naming the daily quota', () => groqErrors.tokensPerDay()],
    ])('%s → the same provider with its other key', async (_name, failure) => {
      const { messages, requests } = await ask(() => providers.enqueue(failure()));
      expect(messages).toEqual(['groq: the question']);
      expect(dialects(requests)).toEqual(['groq', 'groq']);
      expect(new Set(keysOf(requests))).toEqual(new Set([SUITE_KEYS.groq, SECOND_GROQ_KEY]));
    });

    it.each<[string, () => Behaviour]>([
      ['500', () => groqErrors.serverError()],
      ['503', () => groqErrors.unavailable()],
      ['a hang', () => ({ type: 'hang' })],
      ['a stream cut before the first token', () => ({ type: 'cut', text: 'never seen', afterChunks: 0 })],
      ['a stream stalled before the first token', () => ({ type: 'stall', text: 'never seen', afterChunks: 0 })],
    ])('transient: %s → the next provider', async (_name, failure) => {
      const { messages, requests } = await ask(() => providers.enqueue(failure()));
      expect(messages).toEqual(['cerebras: the question']);
      expect(dialects(requests)).toEqual(['groq', 'cerebras']);
    });

    it.each([
      ['400 context_length_exceeded', () => groqErrors.contextTooLong()],
      ['413 request too large', () => groqErrors.requestTooLarge()],
    ])('context_too_long: %s → asked again with a shortened conversation', async (_name, failure) => {
      const { messages, requests } = await ask(() => providers.enqueue(failure()));
      expect(messages).toEqual(['groq: the question']);
      expect(dialects(requests)).toEqual(['groq', 'groq']);
    });

    it('bad_request: 404 unknown model → the next provider', async () => {
      const { messages, requests } = await ask(() => providers.enqueue(groqErrors.modelNotFound()));
      expect(messages).toEqual(['cerebras: the question']);
      expect(dialects(requests)).toEqual(['groq', 'cerebras']);
    });

    it('content_filtered: a safety refusal is told to the user; no other provider is asked', async () => {
      const { messages, requests } = await ask(() => providers.enqueue({ type: 'blocked' }));
      expect(messages).toEqual([en.errors.contentFiltered]);
      expect(dialects(requests)).toEqual(['groq']);
    });
  });

  describe('every provider failing the same way, each in its own wire format: one clear message', () => {
    it('auth (401, and Gemini 400 API_KEY_INVALID) → the providers are unavailable', async () => {
      const { messages, requests } = await ask(() =>
        providers.setHandler(
          failing({
            groq: groqErrors.invalidKey,
            cerebras: cerebrasErrors.invalidKey,
            gemini: geminiErrors.invalidKey,
            openrouter: openRouterErrors.invalidKey,
            cohere: cohereErrors.invalidKey,
          }),
        ),
      );
      expect(messages).toEqual([en.errors.unavailable]);
      expect(dialects(requests)).toEqual(['groq', 'groq', 'cerebras', 'gemini', 'openrouter', 'cohere']);
    });

    it('rate_limited → the quota is busy, come back in a few minutes', async () => {
      const { messages, requests } = await ask(() =>
        providers.setHandler(
          failing({
            groq: () => groqErrors.tokensPerMinute(60),
            cerebras: () => cerebrasErrors.requestsPerMinute(60),
            gemini: () => geminiErrors.requestsPerMinute('45s'),
            openrouter: () => openRouterErrors.freeModelsPerMinute(Date.now() + 60_000),
            cohere: () => cohereErrors.perMinute(60),
          }),
        ),
      );
      expect(messages).toHaveLength(1);
      expect(messages[0]).toMatch(QUOTA_BUSY);
      expect(dialects(requests)).toEqual(['groq', 'groq', 'cerebras', 'gemini', 'openrouter', 'cohere']);
    });

    it('quota_exhausted → the quota is busy, come back later', async () => {
      const { messages, requests } = await ask(() =>
        providers.setHandler(
          failing({
            groq: groqErrors.tokensPerDay,
            cerebras: cerebrasErrors.requestsPerDay,
            gemini: () => geminiErrors.requestsPerDay(),
            openrouter: () => openRouterErrors.freeModelsPerDay(),
            cohere: cohereErrors.trialMonthly,
          }),
        ),
      );
      expect(messages).toHaveLength(1);
      expect(messages[0]).toMatch(QUOTA_BUSY);
      expect(dialects(requests)).toEqual(['groq', 'groq', 'cerebras', 'gemini', 'openrouter', 'cohere']);
    });

    it('transient (500, 503) → the providers are unavailable; each provider asked once', async () => {
      const { messages, requests } = await ask(() =>
        providers.setHandler(
          failing({
            groq: groqErrors.serverError,
            cerebras: cerebrasErrors.unavailable,
            gemini: geminiErrors.overloaded,
            openrouter: openRouterErrors.serverError,
            cohere: cohereErrors.unavailable,
          }),
        ),
      );
      expect(messages).toEqual([en.errors.unavailable]);
      expect(dialects(requests)).toEqual(['groq', 'cerebras', 'gemini', 'openrouter', 'cohere']);
    });

    it('context_too_long → the conversation is too long, send /reset', async () => {
      const { messages, requests } = await ask(() =>
        providers.setHandler(
          failing({
            groq: groqErrors.contextTooLong,
            cerebras: cerebrasErrors.contextTooLong,
            gemini: geminiErrors.contextTooLong,
            openrouter: openRouterErrors.contextTooLong,
            cohere: cohereErrors.contextTooLong,
          }),
        ),
      );
      expect(messages).toEqual([en.errors.contextTooLong]);
      // Each provider is asked once more with a shorter conversation, then given up on.
      for (const name of ['groq', 'cerebras', 'gemini', 'openrouter', 'cohere']) {
        expect(dialects(requests).filter((dialect) => dialect === name)).toHaveLength(2);
      }
    });

    it('bad_request (404 model) → the providers are unavailable; each provider asked once', async () => {
      const { messages, requests } = await ask(() =>
        providers.setHandler(
          failing({
            groq: groqErrors.modelNotFound,
            cerebras: () => cerebrasErrors.modelNotFound(),
            gemini: () => geminiErrors.modelNotFound(),
            openrouter: () => openRouterErrors.modelNotFound(),
            cohere: () => cohereErrors.modelNotFound(),
          }),
        ),
      );
      expect(messages).toEqual([en.errors.unavailable]);
      expect(dialects(requests)).toEqual(['groq', 'cerebras', 'gemini', 'openrouter', 'cohere']);
    });
  });

  describe('every kind at once', () => {
    /** Groq's keys rejected and rate-limited, Cerebras down, Gemini out of daily quota, OpenRouter misconfigured. */
    const mixed =
      (cohere: (request: RecordedRequest) => Behaviour): Handler =>
      (request) => {
        if (request.apiKey === SECOND_GROQ_KEY) return groqErrors.tokensPerMinute(60);
        const presets: Presets = {
          groq: groqErrors.invalidKey,
          cerebras: cerebrasErrors.serverError,
          gemini: () => geminiErrors.requestsPerDay(),
          openrouter: () => openRouterErrors.modelNotFound(),
          cohere: () => cohere(request),
        };
        return presets[request.dialect as ProviderName]();
      };

    it('walks the whole pool to the one provider that answers', async () => {
      const { messages, requests } = await ask(() => providers.setHandler(mixed(answering)));
      expect(messages).toEqual(['cohere: the question']);
      expect(dialects(requests)).toEqual(['groq', 'groq', 'cerebras', 'gemini', 'openrouter', 'cohere']);
    });

    it('says once that the providers are unavailable when none answers', async () => {
      const { messages } = await ask(() => providers.setHandler(mixed(() => cohereErrors.serverError())));
      expect(messages).toEqual([en.errors.unavailable]);
    });

    it('stops at a safety refusal mid-way, without burning the providers after it', async () => {
      const { messages, requests } = await ask(() =>
        providers.setHandler((request) =>
          request.dialect === 'groq' ? groqErrors.serverError() : { type: 'blocked' },
        ),
      );
      expect(messages).toEqual([en.errors.contentFiltered]);
      expect(dialects(requests)).toEqual(['groq', 'cerebras']);
    });
  });

  describe('afterwards', () => {
    it('kept running through all of it, with nothing leaked into a message', async () => {
      expect(bot.child.exitCode).toBeNull();
      expect(crashRecords(bot)).toEqual([]);
      expect(suspiciousTexts(telegram)).toEqual([]);
      expect(await outcomeOf({ id: nextUserId++, first_name: 'Last', language_code: 'en' }, 'still there?')).toEqual([
        'groq: still there?',
      ]);
    });
  });
});
