import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { en } from '../../bot/locales/en';
import { type FakeProviderServer, startFakeProviderServer } from '../fakes/provider-server';
import { type FakeTelegramServer, startFakeTelegramServer, type UserInput } from '../fakes/telegram-server';
import {
  answered,
  botEnv,
  crashRecords,
  FIRST_PROVIDER,
  requestsEndingWith,
  SECOND_PROVIDER,
  SHORT_TIMEOUTS,
  startRedisBotWorld,
  type RedisBotWorld,
  suspiciousTexts,
  turnsOf,
  until,
} from '../helpers/bot-harness';
import { type BotProcess, startBotProcess } from '../helpers/bot-process';
import { freePort, startTestRedis, type TestRedis } from '../helpers/redis-server';
import { connectInspector, storedTurns } from '../helpers/stored-history';

/** Longest a user may wait for an answer while Redis is away (ioredis' defaults would take ~73 s). */
const PROMPT_MS = 3000;

/** The outage needs a redis-server of the suite's own to kill and restart, not one named by TEST_REDIS_URL. */
const describeOutage = process.env.TEST_REDIS_URL ? describe.skip : describe;

/**
 * Redis killed and restarted under a running bot (REDIS_URL set), mid-conversation: while it is
 * down the bot answers every message within a few seconds, says once per conversation that it
 * answers without history, limits users on per-process counters, fails /reset fast and still
 * shows /stats; when Redis returns, history and shared counters are written there again with no
 * restart.
 */
describeOutage('Redis outage mid-conversation', () => {
  let redis: TestRedis;
  let inspector: Redis;
  let telegram: FakeTelegramServer;
  let providers: FakeProviderServer;
  let bot: BotProcess;
  const user = { id: 6101, first_name: 'Rosa', language_code: 'en' };
  const burst = { id: 6102, first_name: 'Burak', language_code: 'en' };
  const admin = { id: 6103, first_name: 'Ada', language_code: 'en' };
  const waits: { text: string; ms: number }[] = [];

  let world: RedisBotWorld | undefined;
  beforeAll(async () => {
    world = await startRedisBotWorld([FIRST_PROVIDER, SECOND_PROVIDER], {
      ...SHORT_TIMEOUTS,
      ADMIN_IDS: String(admin.id),
      RATE_LIMIT_PER_MINUTE: '4',
      HISTORY_MAX_MESSAGES: '50',
    });
    ({ redis, inspector, telegram, providers, bot } = world);
  });
  afterAll(async () => world?.stop());

  /** One chat message: what the bot sent for it, and how long the user waited for all of it. */
  async function turn(from: UserInput, text: string): Promise<string[]> {
    const before = telegram.messagesIn(from.id).length;
    const started = performance.now();
    const update = telegram.sendText(from, text);
    await answered(bot, update);
    waits.push({ text, ms: performance.now() - started });
    return telegram
      .messagesIn(from.id)
      .slice(before)
      .map((message) => message.text);
  }

  /** A command (or a refused message): the bot's first message after it, and how long it took. */
  async function command(from: UserInput, text: string, expected?: (reply: string) => boolean): Promise<string> {
    const since = telegram.mark();
    const started = performance.now();
    telegram.sendText(from, text);
    const reply = await telegram.waitForMessage(
      from.id,
      (message) => message.fromBot && (expected?.(message.text) ?? true),
      { since, timeoutMs: 10_000 },
    );
    waits.push({ text, ms: performance.now() - started });
    return reply.text;
  }

  const historyOf = (conversation: string): Promise<string[]> => storedTurns(inspector, conversation);

  let botConnections = 0;

  it('keeps the conversation in Redis while it is up', async () => {
    expect(await turn(user, 'one')).toEqual(['echo: one']);
    expect(await turn(user, 'two')).toEqual(['echo: two']);
    expect(turnsOf(requestsEndingWith(providers, 'two')[0])).toEqual([
      'user: one',
      'assistant: echo: one',
      'user: two',
    ]);
    expect(await historyOf(`u:${user.id}`)).toEqual([
      'user: one',
      'assistant: echo: one',
      'user: two',
      'assistant: echo: two',
    ]);
    botConnections = await connectionCount(inspector);
    expect(botConnections).toBeGreaterThan(0);
  });

  it('delivers the answer in flight when Redis dies under it, saying it could not keep it', async () => {
    // The provider holds its answer until Redis is gone: the history was read, the exchange cannot be stored.
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    providers.setHandler(async (request) => {
      await held;
      return { type: 'reply', text: `echo: ${request.messages.at(-1)?.content ?? ''}` };
    });
    const before = telegram.messagesIn(user.id).length;
    const update = telegram.sendText(user, 'three');
    await until(() => requestsEndingWith(providers, 'three').length === 1, 'the provider to be asked');
    expect(turnsOf(requestsEndingWith(providers, 'three')[0])).toHaveLength(5); // two earlier turns and this one
    await redis.kill();
    const released = performance.now();
    release();
    await answered(bot, update);
    waits.push({ text: 'three', ms: performance.now() - released });
    providers.setHandler((request) => ({ type: 'reply', text: `echo: ${request.messages.at(-1)?.content ?? ''}` }));

    const sent = telegram
      .messagesIn(user.id)
      .slice(before)
      .map((message) => message.text);
    expect(sent).toEqual(['echo: three', en.historyUnavailable]);
  });

  it('answers promptly while Redis is down, without saying it again', async () => {
    expect(await turn(user, 'four')).toEqual(['echo: four']);
    expect(await turn(user, 'five')).toEqual(['echo: five']);

    // Without Redis there is no history to send: each question goes alone, none is lost or doubled.
    expect(turnsOf(requestsEndingWith(providers, 'four')[0])).toEqual(['user: four']);
    expect(requestsEndingWith(providers, 'five')).toHaveLength(1);
    expect(
      bot.records().some((record) => record.msg === "Redis is unavailable: using this process's local state"),
    ).toBe(true);
  });

  it('limits users on per-process counters while Redis is down', async () => {
    for (const text of ['b1', 'b2', 'b3', 'b4']) expect((await turn(burst, text))[0]).toBe(`echo: ${text}`);
    const refusal = await command(burst, 'b5', (reply) => !reply.startsWith('echo'));
    expect(refusal).toMatch(/^You're sending messages too fast\. Please wait \d+ s and try again\.$/);
    expect(requestsEndingWith(providers, 'b5')).toEqual([]);
    // The burst user's own conversation was told once too.
    expect(telegram.messagesIn(burst.id).filter((message) => message.text === en.historyUnavailable)).toHaveLength(1);
  });

  it('fails /reset fast, and still answers /help and /stats', async () => {
    expect(await command(user, '/reset')).toBe(en.resetFailed);
    expect(await command(user, '/help')).toBe(en.help);
    const stats = await command(admin, '/stats');
    expect(stats).toContain('📊 Switchboard');
    expect(stats).toContain(FIRST_PROVIDER);
    expect(stats).toContain(SECOND_PROVIDER);
  });

  it('resumes on Redis when it returns, without a restart', async () => {
    await redis.start();
    // The bot's clients reconnect by themselves (backing off up to 2 s): wait until Redis sees them all.
    await eventually(async () => (await connectionCount(inspector)) === botConnections, 'the bot to reconnect');

    expect(await turn(user, 'six')).toEqual(['echo: six']);
    // Redis came back empty (no persistence in tests): the exchange after the outage is there, once.
    expect(await historyOf(`u:${user.id}`)).toEqual(['user: six', 'assistant: echo: six']);
    expect(await turn(user, 'seven')).toEqual(['echo: seven']);
    expect(turnsOf(requestsEndingWith(providers, 'seven')[0])).toEqual([
      'user: six',
      'assistant: echo: six',
      'user: seven',
    ]);

    // Shared state is used again: per-user counters, key quotas and stats are written to Redis.
    expect(await turn(burst, 'b6')).toEqual(['echo: b6']);
    expect(await inspector.get(`sb:counter:rate:${burst.id}`)).toBe('1');
    expect(await inspector.keys('sb:{quota}:*')).not.toEqual([]);
    // Stats are written in batches up to 25 ms after the answer.
    await eventually(async () => (await inspector.keys('sb:stats:*')).length > 0, 'stats to be written to Redis');
    expect(await command(user, '/reset')).toBe(en.resetDone);
    expect(await historyOf(`u:${user.id}`)).toEqual([]);
    expect(bot.records().some((record) => record.msg === 'Redis is back: shared state resumed')).toBe(true);
  });

  it('never made anyone wait long, and nothing crashed', () => {
    expect(waits.length).toBeGreaterThan(15);
    expect(waits.filter((wait) => wait.ms > PROMPT_MS)).toEqual([]);
    expect(bot.child.exitCode).toBeNull();
    expect(crashRecords(bot)).toEqual([]);
    expect(suspiciousTexts(telegram)).toEqual([]);
  });
});

/**
 * Webhook mode, where updates go through the queue in Redis: with Redis killed, deliveries are
 * refused at once (Telegram keeps them and delivers them again); when it returns they are queued,
 * answered in each chat's order, and stored in Redis again.
 */
describeOutage('Redis outage in webhook mode', () => {
  let redis: TestRedis;
  let inspector: Redis;
  let telegram: FakeTelegramServer;
  let providers: FakeProviderServer;
  let bot: BotProcess;
  let hookUrl: string;
  const user = { id: 6201, first_name: 'Wes', language_code: 'en' };
  const waits: { text: string; ms: number }[] = [];

  beforeAll(async () => {
    [redis, telegram, providers] = await Promise.all([
      startTestRedis(),
      startFakeTelegramServer({ allowHttpWebhooks: true }),
      startFakeProviderServer(),
    ]);
    inspector = await connectInspector(redis.url);
    // Each answer takes a little while, so back-to-back messages overlap unless kept in order.
    providers.setHandler((request) => ({
      type: 'reply',
      text: `echo: ${request.messages.at(-1)?.content ?? ''}`,
      delayMs: 100,
    }));
    const port = await freePort();
    hookUrl = `http://127.0.0.1:${port}/telegram/hook`;
    bot = startBotProcess(
      botEnv(telegram, providers, [FIRST_PROVIDER, SECOND_PROVIDER], {
        ...SHORT_TIMEOUTS,
        REDIS_URL: redis.url,
        WEBHOOK_URL: hookUrl,
        WEBHOOK_SECRET: 'faults-redis-webhook-secret',
        PORT: String(port),
        RATE_LIMIT_PER_MINUTE: '0',
      }),
    );
    await bot.waitForLog((record) => record.msg === 'webhook server started', 15_000);
  });
  afterAll(async () => {
    await bot?.stop();
    inspector?.disconnect();
    await Promise.all([telegram?.stop(), providers?.stop(), redis?.stop()]);
  });

  /** Delivers texts back to back (each acknowledged before the next, as Telegram does) and waits for every answer. */
  async function burst(texts: readonly string[]): Promise<string[]> {
    const before = telegram.messagesIn(user.id).length;
    const done: Promise<unknown>[] = [];
    for (const text of texts) {
      const update = telegram.sendText(user, text);
      const delivered = performance.now();
      expect(await telegram.deliverWebhook(hookUrl, update)).toBe(200);
      done.push(answered(bot, update).then(() => waits.push({ text, ms: performance.now() - delivered })));
    }
    await Promise.all(done);
    return telegram
      .messagesIn(user.id)
      .slice(before)
      .map((message) => message.text);
  }

  it('refuses deliveries while Redis is down (Telegram sends them again), then queues, orders and answers them', async () => {
    expect(await burst(['w1'])).toEqual(['echo: w1']);
    const botConnections = await connectionCount(inspector);

    await redis.kill();
    // Nothing can be queued: the delivery is refused at once, so Telegram keeps it and tries again.
    const held = ['w2', 'w3'].map((text) => telegram.sendText(user, text));
    for (const update of held) {
      const started = performance.now();
      expect(await telegram.deliverWebhook(hookUrl, update)).toBe(503);
      expect(performance.now() - started).toBeLessThan(PROMPT_MS);
    }
    expect(
      telegram
        .messagesIn(user.id)
        .filter((message) => message.fromBot)
        .map((message) => message.text),
    ).toEqual(['echo: w1']);

    await redis.start();
    await eventually(async () => (await connectionCount(inspector)) === botConnections, 'the bot to reconnect');
    // Telegram's next tries, then more messages: all queued, each chat in order.
    const before = telegram.messagesIn(user.id).length;
    for (const update of held) expect(await telegram.deliverWebhook(hookUrl, update)).toBe(200);
    expect(await burst(['w4'])).toContain('echo: w4');
    const replies = telegram
      .messagesIn(user.id)
      .slice(before)
      .filter((message) => message.fromBot)
      .map((message) => message.text);
    expect(replies).toEqual(['echo: w2', 'echo: w3', 'echo: w4']);
    // Each answer saw the turns before it (this Redis keeps nothing over a restart, so w1 is gone).
    expect(turnsOf(requestsEndingWith(providers, 'w4')[0])).toEqual([
      'user: w2',
      'assistant: echo: w2',
      'user: w3',
      'assistant: echo: w3',
      'user: w4',
    ]);
    expect(await storedTurns(inspector, `u:${user.id}`)).toHaveLength(6);
    expect(await inspector.keys('sb:{intake}:line:*')).not.toEqual([]);

    expect(waits.filter((wait) => wait.ms > 2 * PROMPT_MS)).toEqual([]);
    expect(crashRecords(bot)).toEqual([]);
  });
});

/** Clients connected to Redis, not counting the one asking. */
async function connectionCount(inspector: Redis): Promise<number> {
  const clients = String(await inspector.client('LIST'))
    .trim()
    .split('\n');
  return clients.length - 1;
}

/** Polls an asynchronous condition until it holds (a state, not an event), or fails after `timeoutMs`. */
async function eventually(condition: () => Promise<boolean>, description: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`waited ${timeoutMs} ms for ${description}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
