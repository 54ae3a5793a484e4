import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type FakeProviderServer, startFakeProviderServer } from '../fakes/provider-server';
import { DEFAULT_TOKEN, type FakeTelegramServer, startFakeTelegramServer } from '../fakes/telegram-server';
import { envVar, FIRST_PROVIDER, testKey } from '../helpers/bot-harness';
import { type BotProcess, startBotProcess } from '../helpers/bot-process';

describe('the bot, started as users start it', () => {
  let telegram: FakeTelegramServer;
  let providers: FakeProviderServer;
  let bot: BotProcess;
  const alice = { id: 1001, first_name: 'Alice', language_code: 'en' };

  beforeAll(async () => {
    telegram = await startFakeTelegramServer();
    providers = await startFakeProviderServer();
    bot = startBotProcess({
      BOT_TOKEN: DEFAULT_TOKEN,
      TELEGRAM_API_ROOT: telegram.apiRoot,
      [envVar(FIRST_PROVIDER, 'API_KEY')]: testKey(FIRST_PROVIDER, 'smoke'),
      [envVar(FIRST_PROVIDER, 'BASE_URL')]: providers.baseUrlFor(FIRST_PROVIDER),
      STREAM_REPLIES: 'false',
    });
    await telegram.waitForPolling({ timeoutMs: 15_000 });
  });
  afterAll(async () => {
    await bot.stop();
    await telegram.stop();
    await providers.stop();
  });

  it('answers a message', async () => {
    telegram.sendText(alice, 'hello there');
    const message = await telegram.waitForMessage(alice.id, (m) => m.fromBot, 10_000);
    expect(message.text).toBe('echo: hello there');
  });
});
