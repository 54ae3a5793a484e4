import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { en } from '../../bot/locales/en';
import { type ApiCall, type Failure, type FakeTelegramServer, telegramErrors } from '../fakes/telegram-server';
import {
  answered,
  ask,
  crashRecords,
  FIRST_PROVIDER,
  SECOND_PROVIDER,
  SHORT_TIMEOUTS,
  startRedisBotWorld,
  type RedisBotWorld,
  suspiciousTexts,
} from '../helpers/bot-harness';
import type { BotProcess } from '../helpers/bot-process';
import { storedTurns } from '../helpers/stored-history';

/** auto-retry waits 3 s before retrying a 5xx, our network retry 1 s: one retry fits in this. */
const ONE_RETRY_MS = 7000;

const statusOf = (failure: Failure): ApiCall['status'] =>
  'drop' in failure ? 'dropped' : 'body' in failure ? failure.status : failure.error_code;

/**
 * Telegram failing under the built bot: 429 with retry_after, 5xx (a Bot API error and a proxy's
 * HTML page) and dropped connections, on the answer's sendMessage and on getUpdates. The answer
 * still arrives, once, within the bounded retries (auto-retry: 3 attempts, flood waits up to 30 s);
 * a flood wait beyond that bound is not waited out; the bot keeps running; and the stored
 * conversation holds each exchange exactly once.
 */
describe('Telegram failures', () => {
  let inspector: Redis;
  let telegram: FakeTelegramServer;
  let bot: BotProcess;
  let nextUserId = 7301;

  let world: RedisBotWorld | undefined;
  beforeAll(async () => {
    world = await startRedisBotWorld([FIRST_PROVIDER, SECOND_PROVIDER], {
      ...SHORT_TIMEOUTS,
      RATE_LIMIT_PER_MINUTE: '0',
    });
    ({ inspector, telegram, bot } = world);
  });
  afterAll(async () => world?.stop());
  beforeEach(async () => {
    telegram.clearFailures();
    // Each case starts with the bot idle and listening, so a scripted failure meets the call it names.
    await telegram.waitForPolling({ timeoutMs: 10_000 });
  });

  const newUser = () => ({ id: nextUserId++, first_name: 'Tom', language_code: 'en' });
  const texts = (chatId: number): string[] => telegram.messagesIn(chatId).map((message) => message.text);

  describe("the answer's sendMessage", () => {
    it.each<[string, Failure, number]>([
      ['429 with retry_after 1', telegramErrors.tooManyRequests(1), 1000],
      ['500 Internal Server Error', telegramErrors.internalServerError(), 3000],
      // Not JSON: grammY reports it as a network error, retried by our bounded retry after 1 s.
      ["a proxy's 502 HTML page", { status: 502, body: '<html><body>502 Bad Gateway</body></html>' }, 1000],
      ['a dropped connection', { drop: true }, 1000],
    ])('%s: retried, delivered once, stored once', async (_name, failure, waitedMs) => {
      const user = newUser();
      const since = telegram.mark();
      telegram.failNext('sendMessage', failure);
      const started = performance.now();
      const update = telegram.sendText(user, 'hello through the storm');
      await answered(bot, update, ONE_RETRY_MS + 3000);
      const elapsed = performance.now() - started;

      expect(texts(user.id)).toEqual(['echo: hello through the storm']);
      const attempts = telegram.calls.slice(since).filter((call) => call.method === 'sendMessage');
      expect(attempts.map((call) => call.status)).toEqual([statusOf(failure), 200]);
      // It waited what Telegram (or the backoff) asked, and no more than one bounded retry.
      expect(elapsed).toBeGreaterThanOrEqual(waitedMs - 50);
      expect(elapsed).toBeLessThan(ONE_RETRY_MS);
      expect(await storedTurns(inspector, `u:${user.id}`)).toEqual([
        'user: hello through the storm',
        'assistant: echo: hello through the storm',
      ]);
    });

    it('gives up on a connection that keeps dropping after bounded retries, and the chat goes on', async () => {
      const user = newUser();
      const since = telegram.mark();
      // The answer and its three retries (1 s, 2 s, 4 s apart) all lose their connection.
      telegram.failNext('sendMessage', { drop: true }, 4);
      const update = telegram.sendText(user, 'anyone there?');
      await bot.waitForLog((record) => record.update_id === update.update_id && record.msg === 'no answer', 15_000);
      await telegram.waitForMessage(user.id, (message) => message.text === en.errors.generic, {
        since,
        timeoutMs: 5000,
      });
      expect(
        telegram.calls
          .slice(since)
          .filter((call) => call.method === 'sendMessage')
          .map((call) => call.status),
      ).toEqual(['dropped', 'dropped', 'dropped', 'dropped', 200]);
      const next = telegram.sendText(user, 'still there?');
      await answered(bot, next);
      expect(texts(user.id)).toEqual([en.errors.generic, 'echo: still there?']);
    });

    it('holds an answer that meets a flood wait longer than 30 s for when it ends, and the bot goes on', async () => {
      const user = newUser();
      const other = newUser();
      const since = telegram.mark();
      telegram.failNext('sendMessage', telegramErrors.tooManyRequests(120));
      const update = telegram.sendText(user, 'are you flooded?');
      await bot.waitForLog(
        (record) =>
          record.update_id === update.update_id &&
          record.msg === 'Telegram flood wait: the answer is sent when it ends',
        10_000,
      );
      await answered(bot, update);
      // The next question in that chat is answered with the exchange (stored once), and its answer
      // waits behind the first; another chat is answered at once.
      const next = telegram.sendText(user, 'and now?');
      await bot.waitForLog(
        (record) =>
          record.update_id === next.update_id &&
          record.msg === 'answer queued behind one waiting out a Telegram flood wait',
        10_000,
      );
      expect(await storedTurns(inspector, `u:${user.id}`)).toEqual([
        'user: are you flooded?',
        'assistant: echo: are you flooded?',
        'user: and now?',
        'assistant: echo: and now?',
      ]);
      await ask(telegram, other, 'anyone there?');
      expect(texts(other.id)).toEqual(['echo: anyone there?']);
      // Nothing was sent to the flooded chat during its wait (the two minutes are not waited here;
      // tests/integration/flood-wait.test.ts follows an answer to its delivery on a fake clock).
      expect(texts(user.id)).toEqual([]);
      expect(
        telegram.calls
          .slice(since)
          .filter((call) => call.method === 'sendMessage' && Number(call.params.chat_id) === user.id)
          .map((call) => call.status),
      ).toEqual([429]);
      expect(bot.records().filter((record) => record.msg === 'no answer' && record.chat === user.id)).toEqual([]);
    });
  });

  describe('getUpdates', () => {
    it.each<[string, Failure]>([
      ['429 with retry_after 1', telegramErrors.tooManyRequests(1)],
      ['500 Internal Server Error', telegramErrors.internalServerError()],
      ['a dropped connection', { drop: true }],
    ])('%s: updates before and after it are answered once each', async (_name, failure) => {
      const user = newUser();
      const since = telegram.mark();
      telegram.failNext('getUpdates', failure);
      // The held poll returns the first update; the bot's next poll, made while it answers, fails.
      const first = telegram.sendText(user, 'before the failure');
      await telegram.waitForCall('getUpdates', (call) => call.status === statusOf(failure), {
        since,
        timeoutMs: 5000,
      });
      const second = telegram.sendText(user, 'after the failure');
      await answered(bot, first, ONE_RETRY_MS);
      await answered(bot, second, ONE_RETRY_MS);

      // The retried poll asked for the unconfirmed first update again: it was not answered twice.
      expect(texts(user.id)).toEqual(['echo: before the failure', 'echo: after the failure']);
      expect(await storedTurns(inspector, `u:${user.id}`)).toEqual([
        'user: before the failure',
        'assistant: echo: before the failure',
        'user: after the failure',
        'assistant: echo: after the failure',
      ]);
      await telegram.waitForPolling({ timeoutMs: ONE_RETRY_MS });
      expect(telegram.updatesConfirmed()).toBeGreaterThan(second.update_id);
    });
  });

  describe('Telegram unreachable for a while', () => {
    it('resumes long polling within seconds of its return, not after a long backoff', async () => {
      const user = newUser();
      const since = telegram.mark();
      // Four polls in a row lose their connection (a network outage of a few seconds).
      telegram.failNext('getUpdates', { drop: true }, 4);
      const first = telegram.sendText(user, 'before the outage');
      await telegram.waitForCall('getUpdates', (call) => call.status === 'dropped', { since, timeoutMs: 5000 });
      const second = telegram.sendText(user, 'during the outage');
      const started = performance.now();
      await answered(bot, first, ONE_RETRY_MS);
      await answered(bot, second, 15_000);
      expect(performance.now() - started).toBeLessThan(10_000);
      expect(telegram.calls.slice(since).filter((call) => call.status === 'dropped')).toHaveLength(4);
      expect(telegram.messagesIn(user.id).map((message) => message.text)).toEqual([
        'echo: before the outage',
        'echo: during the outage',
      ]);
    });
  });

  describe('afterwards', () => {
    it('kept running, crashed nowhere, and sent nothing odd', async () => {
      const user = newUser();
      const update = telegram.sendText(user, 'all good?');
      await answered(bot, update);
      expect(texts(user.id)).toEqual(['echo: all good?']);
      expect(bot.child.exitCode).toBeNull();
      expect(crashRecords(bot)).toEqual([]);
      expect(suspiciousTexts(telegram)).toEqual([]);
    });
  });
});
