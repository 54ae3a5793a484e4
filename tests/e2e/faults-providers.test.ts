import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { en } from '../../bot/locales/en';
import { keyIdFor } from '../../providers/router/router';
import {
  type Behaviour,
  type DialectErrors,
  dialectFor,
  type FakeProviderServer,
  type Handler,
  type RecordedRequest,
  startFakeProviderServer,
} from '../fakes/provider-server';
import { type FakeTelegramServer, startFakeTelegramServer, type UserInput } from '../fakes/telegram-server';
import {
  botEnv,
  crashRecords,
  envVar,
  FIRST_PROVIDER,
  keyEnv,
  PROVIDER_NAMES,
  SECOND_PROVIDER,
  startPollingBot,
  suspiciousTexts,
  testKey,
  testKeys,
  turnsOf,
} from '../helpers/bot-harness';
import type { BotProcess } from '../helpers/bot-process';
import { startTestRedis, type TestRedis } from '../helpers/redis-server';
import { connectInspector, storedTurns } from '../helpers/stored-history';

/** This suite's own keys: the cool-downs and blocks it leaves in Redis are its own to clear. */
const SUITE_KEYS = testKeys('faults');
/** The first provider has two keys: a failure of one key sends the question to the other. */
const SECOND_KEY = testKey(FIRST_PROVIDER, 'faults', 2);
const QUOTA_BUSY = /^All my free AI quota is busy right now\. Please try again in about \d+ min\.$/;
/** Every provider's own words for each kind of failure. */
const errorsOf = (name: string): DialectErrors => dialectFor(name).errors;
const FIRST = errorsOf(FIRST_PROVIDER);
/** The dialects of the attempts when each provider is asked once, the first with both its keys. */
const EVERY_KEY = [FIRST_PROVIDER, ...PROVIDER_NAMES];

/** Every provider answers, saying who it is. */
const answering = (request: RecordedRequest): Behaviour => ({
  type: 'reply',
  text: `${request.dialect}: ${request.messages.at(-1)?.content ?? ''}`,
});

/** Every provider fails the same way, each in its own wire format and words. */
const failing =
  (failure: (errors: DialectErrors, name: string) => Behaviour): Handler =>
  (request) =>
    failure(errorsOf(request.dialect), request.dialect);

/**
 * Each class of provider failure of the taxonomy, alone and all at once, through the built bot
 * with every provider of the registry (the first with two keys), Redis-backed history, in
 * streamed and whole answers. Each provider fails in its own words (its fake dialect).
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
      botEnv(telegram, providers, PROVIDER_NAMES, {
        ...keyEnv(SUITE_KEYS),
        [envVar(FIRST_PROVIDER, 'API_KEY_2')]: SECOND_KEY,
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
    const keyIds = [
      ...PROVIDER_NAMES.map((name) => keyIdFor(name, SUITE_KEYS[name] ?? '')),
      keyIdFor(FIRST_PROVIDER, SECOND_KEY),
    ];
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
    expect(await outcomeOf(user, 'first question')).toEqual([`${FIRST_PROVIDER}: first question`]);
    providers.reset();
    providers.setHandler(answering);
    arrange();

    const messages = await outcomeOf(user, 'the question');
    const requests = [...providers.requests];
    const history = await storedTurns(inspector, `u:${user.id}`);

    const earlier = ['user: first question', `assistant: ${FIRST_PROVIDER}: first question`];
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
    const optional = (name: string, failure: (() => Behaviour) | undefined): [string, () => Behaviour][] =>
      failure === undefined ? [] : [[name, failure]];

    it.each<[string, () => Behaviour]>([
      ['auth: invalid key', () => FIRST.invalidKey()],
      ...optional('auth: 403 forbidden', FIRST.forbidden),
      ['rate_limited: 429 with retry-after', () => FIRST.rateLimited(60)],
      ['quota_exhausted: 429 naming the daily quota', () => FIRST.quotaExhausted()],
    ])('%s → the same provider with its other key', async (_name, failure) => {
      const { messages, requests } = await ask(() => providers.enqueue(failure()));
      expect(messages).toEqual([`${FIRST_PROVIDER}: the question`]);
      expect(dialects(requests)).toEqual([FIRST_PROVIDER, FIRST_PROVIDER]);
      expect(new Set(keysOf(requests))).toEqual(new Set([SUITE_KEYS[FIRST_PROVIDER], SECOND_KEY]));
    });

    it.each<[string, () => Behaviour]>([
      ['500', () => FIRST.serverError()],
      ['503', () => FIRST.unavailable()],
      ['a hang', () => ({ type: 'hang' })],
      ['a stream cut before the first token', () => ({ type: 'cut', text: 'never seen', afterChunks: 0 })],
      ['a stream stalled before the first token', () => ({ type: 'stall', text: 'never seen', afterChunks: 0 })],
    ])('transient: %s → the next provider', async (_name, failure) => {
      const { messages, requests } = await ask(() => providers.enqueue(failure()));
      expect(messages).toEqual([`${SECOND_PROVIDER}: the question`]);
      expect(dialects(requests)).toEqual([FIRST_PROVIDER, SECOND_PROVIDER]);
    });

    it.each<[string, () => Behaviour]>([
      ['the context is too long', () => FIRST.contextTooLong()],
      ...optional('413 request too large', FIRST.requestTooLarge),
    ])('context_too_long: %s → asked again with a shortened conversation', async (_name, failure) => {
      const { messages, requests } = await ask(() => providers.enqueue(failure()));
      expect(messages).toEqual([`${FIRST_PROVIDER}: the question`]);
      expect(dialects(requests)).toEqual([FIRST_PROVIDER, FIRST_PROVIDER]);
    });

    it('bad_request: 404 unknown model → the next provider', async () => {
      const { messages, requests } = await ask(() => providers.enqueue(FIRST.modelNotFound()));
      expect(messages).toEqual([`${SECOND_PROVIDER}: the question`]);
      expect(dialects(requests)).toEqual([FIRST_PROVIDER, SECOND_PROVIDER]);
    });

    it('content_filtered: a safety refusal is told to the user; no other provider is asked', async () => {
      const { messages, requests } = await ask(() => providers.enqueue({ type: 'blocked' }));
      expect(messages).toEqual([en.errors.contentFiltered]);
      expect(dialects(requests)).toEqual([FIRST_PROVIDER]);
    });
  });

  describe('every provider failing the same way, each in its own wire format: one clear message', () => {
    it("auth (each provider's own invalid-key answer, a 401 or a 400) → the providers are unavailable", async () => {
      const { messages, requests } = await ask(() => providers.setHandler(failing((errors) => errors.invalidKey())));
      expect(messages).toEqual([en.errors.unavailable]);
      expect(dialects(requests)).toEqual(EVERY_KEY);
    });

    it('rate_limited → the quota is busy, come back in a few minutes', async () => {
      const { messages, requests } = await ask(() => providers.setHandler(failing((errors) => errors.rateLimited(60))));
      expect(messages).toHaveLength(1);
      expect(messages[0]).toMatch(QUOTA_BUSY);
      expect(dialects(requests)).toEqual(EVERY_KEY);
    });

    it('quota_exhausted → the quota is busy, come back later', async () => {
      const { messages, requests } = await ask(() =>
        providers.setHandler(failing((errors) => errors.quotaExhausted())),
      );
      expect(messages).toHaveLength(1);
      expect(messages[0]).toMatch(QUOTA_BUSY);
      expect(dialects(requests)).toEqual(EVERY_KEY);
    });

    it('transient (500, 503) → the providers are unavailable; each provider asked once', async () => {
      // 500s and 503s by turns down the pool.
      const { messages, requests } = await ask(() =>
        providers.setHandler(
          failing((errors, name) =>
            PROVIDER_NAMES.indexOf(name) % 2 === 0 ? errors.serverError() : errors.unavailable(),
          ),
        ),
      );
      expect(messages).toEqual([en.errors.unavailable]);
      expect(dialects(requests)).toEqual(PROVIDER_NAMES);
    });

    it('context_too_long → the conversation is too long, send /reset', async () => {
      const { messages, requests } = await ask(() =>
        providers.setHandler(failing((errors) => errors.contextTooLong())),
      );
      expect(messages).toEqual([en.errors.contextTooLong]);
      // Each provider is asked once more with a shorter conversation, then given up on.
      for (const name of PROVIDER_NAMES) {
        expect(dialects(requests).filter((dialect) => dialect === name)).toHaveLength(2);
      }
    });

    it('bad_request (404 model) → the providers are unavailable; each provider asked once', async () => {
      const { messages, requests } = await ask(() => providers.setHandler(failing((errors) => errors.modelNotFound())));
      expect(messages).toEqual([en.errors.unavailable]);
      expect(dialects(requests)).toEqual(PROVIDER_NAMES);
    });
  });

  describe('every kind at once', () => {
    const last = PROVIDER_NAMES.at(-1) ?? '';
    /** What the providers between the first and the last do, by turns: fail, run out of quota, be misconfigured. */
    const middle: readonly ((errors: DialectErrors) => Behaviour)[] = [
      (errors) => errors.serverError(),
      (errors) => errors.quotaExhausted(),
      (errors) => errors.modelNotFound(),
    ];
    /**
     * The first provider's keys rejected and rate-limited, the providers after it down, out of
     * quota or misconfigured in turn, and the last one doing what `lastDoes` says.
     */
    const mixed =
      (lastDoes: (request: RecordedRequest) => Behaviour): Handler =>
      (request) => {
        const errors = errorsOf(request.dialect);
        if (request.dialect === FIRST_PROVIDER) {
          return request.apiKey === SECOND_KEY ? errors.rateLimited(60) : errors.invalidKey();
        }
        if (request.dialect === last) return lastDoes(request);
        const failure = middle[(PROVIDER_NAMES.indexOf(request.dialect) - 1) % middle.length];
        return failure === undefined ? errors.serverError() : failure(errors);
      };

    it('walks the whole pool to the one provider that answers', async () => {
      const { messages, requests } = await ask(() => providers.setHandler(mixed(answering)));
      expect(messages).toEqual([`${last}: the question`]);
      expect(dialects(requests)).toEqual(EVERY_KEY);
    });

    it('says once that the providers are unavailable when none answers', async () => {
      const { messages } = await ask(() => providers.setHandler(mixed(() => errorsOf(last).serverError())));
      expect(messages).toEqual([en.errors.unavailable]);
    });

    it('stops at a safety refusal mid-way, without burning the providers after it', async () => {
      const { messages, requests } = await ask(() =>
        providers.setHandler((request) =>
          request.dialect === FIRST_PROVIDER ? FIRST.serverError() : { type: 'blocked' },
        ),
      );
      expect(messages).toEqual([en.errors.contentFiltered]);
      expect(dialects(requests)).toEqual([FIRST_PROVIDER, SECOND_PROVIDER]);
    });
  });

  describe('afterwards', () => {
    it('kept running through all of it, with nothing leaked into a message', async () => {
      expect(bot.child.exitCode).toBeNull();
      expect(crashRecords(bot)).toEqual([]);
      expect(suspiciousTexts(telegram)).toEqual([]);
      expect(await outcomeOf({ id: nextUserId++, first_name: 'Last', language_code: 'en' }, 'still there?')).toEqual([
        `${FIRST_PROVIDER}: still there?`,
      ]);
    });
  });
});
