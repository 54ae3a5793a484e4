import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type FakeProviderServer, startFakeProviderServer } from '../fakes/provider-server';
import { type FakeTelegramServer, startFakeTelegramServer } from '../fakes/telegram-server';
import {
  answered,
  botEnv,
  crashRecords,
  FIRST_PROVIDER,
  SECOND_PROVIDER,
  startPollingBot,
  suspiciousTexts,
} from '../helpers/bot-harness';
import type { BotProcess } from '../helpers/bot-process';

/**
 * A provider that starts hanging while eight chats wait on it, through the built bot: hedging
 * gives each of them a backup on the next provider, so every user gets an answer long before the
 * first-token timeout (set to 30 s here, longer than the test may run) would have let them fall over.
 */
const FIRST_TOKEN_TIMEOUT_MS = 30_000;

describe('a provider that stalls with eight answers in flight', () => {
  let telegram: FakeTelegramServer;
  let providers: FakeProviderServer;
  let bot: BotProcess;
  const users = Array.from({ length: 8 }, (_, index) => ({
    id: 8100 + index,
    first_name: `User ${index}`,
    language_code: 'en',
  }));

  beforeAll(async () => {
    [telegram, providers] = await Promise.all([startFakeTelegramServer(), startFakeProviderServer()]);
    bot = await startPollingBot(
      telegram,
      botEnv(telegram, providers, [FIRST_PROVIDER, SECOND_PROVIDER], {
        RATE_LIMIT_PER_MINUTE: '0',
        FIRST_TOKEN_TIMEOUT_MS: String(FIRST_TOKEN_TIMEOUT_MS),
        ATTEMPT_TIMEOUT_MS: String(FIRST_TOKEN_TIMEOUT_MS),
        HEDGE_MIN_DELAY_MS: '500',
      }),
    );
    telegram.disableFloodControl();
  });
  afterAll(async () => {
    await bot?.stop();
    await Promise.all([telegram?.stop(), providers?.stop()]);
  });

  it('answers every user from the next provider, each through a hedge, none waiting out the timeout', async () => {
    providers.setHandler((request) =>
      request.dialect === FIRST_PROVIDER ? { type: 'hang' } : { type: 'reply', text: `answer from ${request.dialect}` },
    );
    const started = Date.now();
    const updates = users.map((user) => telegram.sendText(user, `hello from ${user.first_name}`));
    await Promise.all(updates.map((update) => answered(bot, update, 20_000)));
    const elapsed = Date.now() - started;

    for (const user of users) {
      expect(telegram.messagesIn(user.id).map((message) => message.text)).toEqual([`answer from ${SECOND_PROVIDER}`]);
    }
    // Each of the eight waited on the first provider, then got a hedge on the second.
    expect(providers.requestsFor(FIRST_PROVIDER)).toHaveLength(8);
    expect(providers.requestsFor(SECOND_PROVIDER)).toHaveLength(8);
    expect(bot.records().filter((record) => record.msg === 'no answer yet: hedging on another provider')).toHaveLength(
      8,
    );
    // No attempt failed: nobody fell over after a timeout.
    expect(bot.records().filter((record) => record.msg === 'provider attempt failed')).toEqual([]);
    expect(elapsed).toBeLessThan(FIRST_TOKEN_TIMEOUT_MS / 2);
    expect(crashRecords(bot)).toEqual([]);
    expect(suspiciousTexts(telegram)).toEqual([]);
  }, 30_000);
});
