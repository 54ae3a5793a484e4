import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type FakeProviderServer, startFakeProviderServer } from '../fakes/provider-server';
import { DEFAULT_TOKEN, type FakeTelegramServer, startFakeTelegramServer } from '../fakes/telegram-server';
import {
  ask,
  botEnv,
  crashRecords,
  envVar,
  FIRST_PROVIDER,
  KEYS,
  PROVIDER_NAMES,
  SECOND_PROVIDER,
  startPollingBot,
  suspiciousTexts,
  testKey,
} from '../helpers/bot-harness';
import type { BotProcess } from '../helpers/bot-process';

/**
 * `/stats` for admins over every provider of the registry, a refusal for everyone else, and no secret — API
 * key or bot token — in any Telegram call or log line, even at LOG_LEVEL=debug and when a
 * provider echoes the key back in its error.
 */
describe('/stats and secrets', () => {
  let telegram: FakeTelegramServer;
  let providers: FakeProviderServer;
  let bot: BotProcess;
  const admin = { id: 4001, first_name: 'Ada', language_code: 'en' };
  const user = { id: 4002, first_name: 'Ulf', language_code: 'en' };
  const all = PROVIDER_NAMES;
  const firstKey = testKey(FIRST_PROVIDER, 'e2e');
  const secondKey = testKey(FIRST_PROVIDER, 'e2e', 2);
  const secrets = [...Object.values(KEYS), secondKey, DEFAULT_TOKEN];
  /** The provider that answers, after the first two failed. */
  const answering = PROVIDER_NAMES[2] ?? '';

  beforeAll(async () => {
    [telegram, providers] = await Promise.all([startFakeTelegramServer(), startFakeProviderServer()]);
    // The first provider refuses its keys and the second fails, both quoting the key they were
    // sent; the third answers.
    providers.setHandler((request) => {
      if (request.dialect === FIRST_PROVIDER) {
        return {
          type: 'error',
          status: 401,
          body: { error: { message: `Invalid API Key: ${request.apiKey}`, type: 'invalid_request_error' } },
        };
      }
      if (request.dialect === SECOND_PROVIDER) {
        return { type: 'error', status: 500, body: { message: `internal error for key ${request.apiKey}` } };
      }
      return { type: 'reply', text: `${request.dialect} says: ${request.messages.at(-1)?.content ?? ''}` };
    });
    bot = await startPollingBot(
      telegram,
      botEnv(telegram, providers, all, {
        [envVar(FIRST_PROVIDER, 'API_KEY_2')]: secondKey,
        ADMIN_IDS: String(admin.id),
        LOG_LEVEL: 'debug',
        BREAKER_FAILURE_THRESHOLD: '10',
      }),
    );
  });
  afterAll(async () => {
    await bot?.stop();
    await Promise.all([telegram?.stop(), providers?.stop()]);
  });

  it('answers through the pool when the first providers fail', async () => {
    const reply = await ask(telegram, user, 'hello pool');
    expect(reply.text).toBe(`${answering} says: hello pool`);
    expect(providers.requestsFor(FIRST_PROVIDER).map((request) => request.apiKey)).toEqual([firstKey, secondKey]);
    expect(providers.requestsFor(SECOND_PROVIDER)).toHaveLength(1);
  });

  it('shows an admin every configured provider, with keys masked', async () => {
    const stats = await ask(telegram, admin, '/stats');
    const text = telegram
      .messagesIn(admin.id)
      .filter((message) => message.message_id >= stats.message_id)
      .map((message) => message.text)
      .join('\n');

    for (const name of all) expect(text).toContain(name);
    for (const key of [...Object.values(KEYS), secondKey]) {
      expect(text).not.toContain(key);
      expect(text).toContain(`${key.slice(0, 4)}`);
      expect(text).toContain(`${key.slice(-4)}`);
    }
    expect(text).toContain('rejected key'); // the first provider's keys, refused
    expect(text).toMatch(/transient 1/); // the second provider's failure
    expect(text).toContain('Active users today: 1');
    expect(stats.parseMode).toBe('HTML');
  });

  it("refuses a non-admin's /stats and reveals nothing", async () => {
    const refusal = await ask(telegram, user, '/stats');
    expect(refusal.text).toBe("Sorry, /stats is for the bot's admins only.");
    for (const name of all) expect(refusal.text).not.toContain(name);
  });

  it('never puts a full key or the bot token in a Telegram call or a log line', async () => {
    expect(telegram.calls.length).toBeGreaterThan(5);
    for (const call of telegram.calls) {
      const sent = JSON.stringify(call.params);
      for (const secret of secrets) expect(sent).not.toContain(secret);
    }
    const lines = bot.lines;
    // Debug logging was on for this run.
    expect(bot.records().find((record) => record.msg === 'starting')).toMatchObject({ config: { logLevel: 'debug' } });
    for (const line of lines) for (const secret of secrets) expect(line).not.toContain(secret);
    // The failures were logged, quoting the provider's words with the key masked.
    expect(lines.some((line) => line.includes(`Invalid API Key: ${firstKey.slice(0, 6)}…${firstKey.slice(-4)}`))).toBe(
      true,
    );
    expect(crashRecords(bot)).toEqual([]);
    expect(suspiciousTexts(telegram)).toEqual([]);
  });
});
