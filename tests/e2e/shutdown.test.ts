import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { type FakeProviderServer, startFakeProviderServer } from '../fakes/provider-server';
import { type FakeTelegramServer, startFakeTelegramServer } from '../fakes/telegram-server';
import { botEnv, crashRecords, FIRST_PROVIDER, startPollingBot, until } from '../helpers/bot-harness';
import { type BotProcess, startBotProcess } from '../helpers/bot-process';
import { freePort } from '../helpers/redis-server';

/**
 * Stopping the built bot: on SIGTERM during an answer (a provider answering slowly) it stops
 * taking updates, delivers the answer in flight, confirms what it handled and exits 0 — in long
 * polling and in webhook mode. An idle bot exits 0 on SIGINT.
 */
describe('shutdown', () => {
  let telegram: FakeTelegramServer;
  let providers: FakeProviderServer;
  let bot: BotProcess | undefined;
  const user = { id: 9501, first_name: 'Stan', language_code: 'en' };
  const answer = 'a slow answer that takes about a second to stream in full';

  beforeAll(async () => {
    [telegram, providers] = await Promise.all([
      startFakeTelegramServer({ allowHttpWebhooks: true }),
      startFakeProviderServer(),
    ]);
  });
  afterAll(async () => {
    await Promise.all([telegram?.stop(), providers?.stop()]);
  });
  beforeEach(() => {
    telegram.reset();
    providers.reset();
    // 12 words, 90 ms apart: the answer is still streaming when SIGTERM arrives.
    providers.setHandler(() => ({ type: 'reply', text: answer, chunkDelayMs: 90 }));
  });
  afterEach(async () => {
    await bot?.stop('SIGKILL');
    bot = undefined;
  });

  it('delivers the answer in flight and exits 0 on SIGTERM (long polling)', async () => {
    bot = await startPollingBot(telegram, botEnv(telegram, providers, [FIRST_PROVIDER]));
    const update = telegram.sendText(user, 'take your time');
    await until(() => providers.requests.length === 1, 'the provider to be asked');

    const code = await bot.stop('SIGTERM');

    expect(code).toBe(0);
    expect(telegram.messagesIn(user.id).map((message) => message.text)).toEqual([answer]);
    // Confirmed to Telegram: a restart would not get this update again.
    expect(telegram.updatesConfirmed()).toBeGreaterThan(update.update_id);
    expect(bot.records().some((record) => record.msg === 'stopped')).toBe(true);
    expect(crashRecords(bot)).toEqual([]);
  });

  it('delivers the answer in flight and exits 0 on SIGTERM (webhook mode)', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/telegram/hook`;
    bot = startBotProcess(
      botEnv(telegram, providers, [FIRST_PROVIDER], {
        WEBHOOK_URL: url,
        WEBHOOK_SECRET: 'shutdown-secret',
        PORT: String(port),
      }),
    );
    await bot.waitForLog((record) => record.msg === 'webhook server started', 15_000);
    expect(await telegram.deliverWebhook(url, telegram.sendText(user, 'take your time'))).toBe(200);
    // Acknowledged at once, before the answer: Telegram's request is not held while the model thinks.
    expect(telegram.messagesIn(user.id)).toEqual([]);
    await until(() => providers.requests.length === 1, 'the provider to be asked');

    const code = await bot.stop('SIGTERM');

    expect(code).toBe(0);
    expect(telegram.messagesIn(user.id).map((message) => message.text)).toEqual([answer]);
    expect(crashRecords(bot)).toEqual([]);
  });

  it('exits 0 at once on SIGINT when idle', async () => {
    bot = await startPollingBot(telegram, botEnv(telegram, providers, [FIRST_PROVIDER]));
    const started = Date.now();
    expect(await bot.stop('SIGINT')).toBe(0);
    expect(Date.now() - started).toBeLessThan(3000);
  });
});
