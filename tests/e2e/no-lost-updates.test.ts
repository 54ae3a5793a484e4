import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type FakeProviderServer, startFakeProviderServer } from '../fakes/provider-server';
import { type FakeTelegramServer, startFakeTelegramServer } from '../fakes/telegram-server';
import { botEnv, envVar, FIRST_PROVIDER, startPollingBot } from '../helpers/bot-harness';
import { startTestRedis, type TestRedis } from '../helpers/redis-server';

/**
 * With Redis, updates are confirmed to Telegram once they are in the shared queue, and a process
 * that dies leaves its unfinished updates to another (or to itself, restarted): a crash loses
 * nothing. Without Redis (history in the process, lost by a crash anyway) updates are confirmed on
 * receipt. Either way a long answer never holds back the chats that write after it.
 */
describe('no lost updates', () => {
  let telegram: FakeTelegramServer;
  let providers: FakeProviderServer;
  let redis: TestRedis;
  const user = { id: 3001, first_name: 'Sara' };

  beforeAll(async () => {
    telegram = await startFakeTelegramServer();
    providers = await startFakeProviderServer();
    redis = await startTestRedis();
  });
  afterAll(async () => {
    await telegram.stop();
    await providers.stop();
    await redis.stop();
  });

  it.each([
    ['with Redis', true],
    ['without Redis', false],
  ])(
    '%s, confirms updates once taken in: a long answer holds back no other chat',
    async (_name, withRedis) => {
      const bot = await startPollingBot(
        telegram,
        botEnv(telegram, providers, [FIRST_PROVIDER], {
          STREAM_REPLIES: 'false',
          RATE_LIMIT_PER_MINUTE: '0',
          ...(withRedis ? { REDIS_URL: redis.url } : {}),
          // More answers in a minute than the free tier's limits allow one key.
          [envVar(FIRST_PROVIDER, 'RPM')]: '0',
          [envVar(FIRST_PROVIDER, 'RPD')]: '0',
          [envVar(FIRST_PROVIDER, 'TPM')]: '0',
          [envVar(FIRST_PROVIDER, 'TPD')]: '0',
        }),
      );
      const writer = { id: withRedis ? 3051 : 3050, first_name: 'Nika' };
      const base = withRedis ? 3400 : 3200;
      try {
        let release: () => void = () => undefined;
        const held = new Promise<void>((resolve) => {
          release = resolve;
        });
        providers.setHandler(async (request) => {
          if (request.messages.at(-1)?.content === 'a long one') await held;
          return { type: 'reply', text: 'done' };
        });
        const slow = telegram.sendText(writer, 'a long one');
        await telegram.waitForCall('sendChatAction', (call) => call.params.chat_id === writer.id, 5000);
        // More chats than one getUpdates answer holds (100) write while the long answer runs.
        const others = Array.from({ length: 120 }, (_, index) => ({ id: base + index, first_name: `Chat ${index}` }));
        const since = telegram.mark();
        for (const other of others) telegram.sendText(other, 'quick one');
        for (const other of others) {
          await telegram.waitForMessage(other.id, (message) => message.fromBot && message.text === 'done', {
            since,
            timeoutMs: 10_000,
          });
        }
        // All answered while the long one is still running, and confirmed past it.
        expect(telegram.messagesIn(writer.id).filter((message) => message.fromBot)).toEqual([]);
        expect(telegram.updatesConfirmed()).toBeGreaterThan(slow.update_id);
        release();
        await telegram.waitForMessage(writer.id, (message) => message.fromBot && message.text === 'done', 5000);
      } finally {
        providers.reset();
        await bot.stop();
      }
    },
    30_000,
  );

  it('with Redis, answers after a crash and restart the update it was answering when it died', async () => {
    // Another process takes over what a process left unfinished after a second without a sign of life.
    const env = botEnv(telegram, providers, [FIRST_PROVIDER], {
      STREAM_REPLIES: 'false',
      REDIS_URL: redis.url,
      INTAKE_RECLAIM_IDLE_MS: '1000',
    });
    const first = await startPollingBot(telegram, env);
    providers.setHandler(() => ({ type: 'hang' }));
    telegram.sendText(user, 'are you there?');
    await telegram.waitForCall('sendChatAction', (call) => call.params.chat_id === user.id, 5000);
    expect(await first.stop('SIGKILL')).toBeNull();

    providers.setHandler(() => ({ type: 'reply', text: 'yes, back again' }));
    const since = telegram.mark();
    const second = await startPollingBot(telegram, env);
    try {
      const reply = await telegram.waitForMessage(user.id, (message) => message.text === 'yes, back again', {
        timeoutMs: 10_000,
        since,
      });
      expect(reply.fromBot).toBe(true);
    } finally {
      await second.stop();
    }
  });

  describe('with Redis, a crash between storing and sending', () => {
    it('adds no duplicate turn when an update is answered again after a crash between storing and sending', async () => {
      const env = botEnv(telegram, providers, [FIRST_PROVIDER], {
        STREAM_REPLIES: 'false',
        REDIS_URL: redis.url,
        INTAKE_RECLAIM_IDLE_MS: '1000',
      });
      const user2 = { id: 3101, first_name: 'Kian' };
      providers.setHandler((request) => ({ type: 'reply', text: `answer #${request.index}` }));
      const first = await startPollingBot(telegram, env);
      // The answer is stored, then its sendMessage is lost; the bot dies before it can retry.
      telegram.failNext('sendMessage', { drop: true });
      const died = telegram
        .waitForCall('sendMessage', (call) => call.params.chat_id === user2.id, 10_000)
        .then(() => first.stop('SIGKILL'));
      telegram.sendText(user2, 'remember me');
      await died;

      const since = telegram.mark();
      const second = await startPollingBot(telegram, env);
      try {
        await telegram.waitForMessage(user2.id, (message) => message.fromBot, { timeoutMs: 10_000, since });
        telegram.sendText(user2, 'what did I say?');
        await telegram.waitForMessage(
          user2.id,
          (message) => message.fromBot && message.text.startsWith('answer'),
          10_000,
        );
        const last = providers.requests.at(-1)!;
        expect(last.messages.filter((message) => message.content === 'remember me')).toHaveLength(1);
        expect(last.messages.map((message) => message.role)).toEqual(['system', 'user', 'assistant', 'user']);
      } finally {
        providers.reset();
        await second.stop();
      }
    });
  });
});
