import { Writable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { Bot } from 'grammy';
import { createConfig } from '../../bot/config';
import type { BotContext } from '../../bot/context';
import { createBot } from '../../bot/create-bot';
import { en } from '../../bot/locales/en';
import { createLogger } from '../../bot/logger';
import { createServices, type Services } from '../../bot/services/create-services';
import { type FakeProviderServer, startFakeProviderServer } from '../fakes/provider-server';
import { type FakeTelegramServer, startFakeTelegramServer, telegramErrors } from '../fakes/telegram-server';
import { botEnv, FIRST_PROVIDER, until } from '../helpers/bot-harness';
import { FakeClock } from '../helpers/fake-clock';

/**
 * A Telegram flood wait longer than the 30 s the retries in front of every call wait out: the
 * answer, already stored in the conversation, is sent when the wait ends, behind nothing and
 * before the chat's later answers; the update is not held up meanwhile. The bot runs in this
 * process against the fake Telegram, waiting on a fake clock, so a 45 s wait costs nothing.
 */
describe('answers held back by a long Telegram flood wait', () => {
  let telegram: FakeTelegramServer;
  let providers: FakeProviderServer;
  let services: Services;
  let bot: Bot<BotContext>;
  let clock: FakeClock;
  const logLines: Record<string, unknown>[] = [];
  let nextUser = 7400;

  beforeAll(async () => {
    [telegram, providers] = await Promise.all([startFakeTelegramServer(), startFakeProviderServer()]);
    const config = createConfig(botEnv(telegram, providers, [FIRST_PROVIDER], { STREAM_REPLIES: 'false' }));
    const logger = createLogger({
      level: 'info',
      secrets: [],
      destination: new Writable({
        write: (chunk, _encoding, done) => {
          for (const line of String(chunk).split('\n').filter(Boolean)) logLines.push(JSON.parse(line));
          done();
        },
      }),
    });
    services = await createServices(config, logger);
    clock = new FakeClock();
    bot = createBot(config, { services, logger, sleep: (ms) => clock.sleep(ms) });
    await bot.init();
  });

  afterAll(async () => {
    await services?.close();
    await Promise.all([telegram?.stop(), providers?.stop()]);
  });

  beforeEach(() => {
    telegram.clearFailures();
  });

  const newUser = () => ({ id: ++nextUser, first_name: `Flood ${nextUser}`, language_code: 'en' });
  const botTexts = (chatId: number): string[] =>
    telegram
      .messagesIn(chatId)
      .filter((message) => message.fromBot)
      .map((message) => message.text);
  const conversation = (userId: number) => services.stores.history.load(`u:${userId}`);

  it('sends the answer when a 45 s flood wait ends, without holding the update', async () => {
    const user = newUser();
    telegram.failNext('sendMessage', telegramErrors.tooManyRequests(45));
    await bot.handleUpdate(telegram.sendText(user, 'one'));
    // Handled: the exchange is stored, and nothing was shown yet.
    expect((await conversation(user.id)).map((message) => message.content)).toEqual(['one', 'echo: one']);
    expect(botTexts(user.id)).toEqual([]);

    expect(clock.sleeping).toBe(1);
    clock.advance(44_999);
    expect(clock.sleeping).toBe(1);
    clock.advance(1);
    await until(() => botTexts(user.id).length > 0, 'the delayed answer');
    expect(botTexts(user.id)).toEqual(['echo: one']);
    expect(logLines.some((line) => line.msg === 'answer delivered after a flood wait')).toBe(true);
  });

  it("keeps the chat's order: a later answer goes out after the one waiting", async () => {
    const user = newUser();
    telegram.failNext('sendMessage', telegramErrors.tooManyRequests(60));
    await bot.handleUpdate(telegram.sendText(user, 'first'));
    await bot.handleUpdate(telegram.sendText(user, 'second'));
    expect(botTexts(user.id)).toEqual([]);
    clock.advance(60_000);
    await until(() => botTexts(user.id).length === 2, 'both answers');
    expect(botTexts(user.id)).toEqual(['echo: first', 'echo: second']);
    // The second question went with the first exchange: history was kept while the answer waited.
    expect((await conversation(user.id)).map((message) => message.content)).toEqual([
      'first',
      'echo: first',
      'second',
      'echo: second',
    ]);
  });

  it('waits again when the retry meets another flood wait, and sends the answer once', async () => {
    const user = newUser();
    telegram.failNext('sendMessage', telegramErrors.tooManyRequests(40), 2);
    await bot.handleUpdate(telegram.sendText(user, 'again'));
    expect(clock.sleeping).toBe(1);
    clock.advance(40_000);
    // The retry met the second flood wait and waits again.
    await until(() => clock.sleeping === 1, 'the second wait');
    expect(botTexts(user.id)).toEqual([]);
    clock.advance(40_000);
    await until(() => botTexts(user.id).length > 0, 'the answer');
    clock.advance(3_600_000);
    await new Promise((resolve) => setImmediate(resolve));
    expect(botTexts(user.id)).toEqual(['echo: again']);
  });

  it('does not wait out a flood wait beyond its bound: the user is told the answer failed', async () => {
    const user = newUser();
    telegram.failNext('sendMessage', telegramErrors.tooManyRequests(3 * 3600));
    await bot.handleUpdate(telegram.sendText(user, 'too long'));
    expect(botTexts(user.id)).toEqual([en.errors.generic]);
  });
});
