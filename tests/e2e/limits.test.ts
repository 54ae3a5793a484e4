import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type FakeProviderServer, startFakeProviderServer } from '../fakes/provider-server';
import { DEFAULT_TOKEN, type FakeTelegramServer, startFakeTelegramServer } from '../fakes/telegram-server';
import {
  ask,
  botEnv,
  crashRecords,
  FIRST_PROVIDER,
  startPollingBot,
  suspiciousTexts,
  until,
} from '../helpers/bot-harness';
import { type BotProcess, startBotProcess } from '../helpers/bot-process';
import { freePort, startTestRedis, type TestRedis } from '../helpers/redis-server';

const NOTICE = /^You're sending messages too fast\. Please wait \d+ s and try again\.$/;

/**
 * Per-user limits through the built bot: RATE_LIMIT_PER_MINUTE=3 lets 3 of 6 quick messages reach
 * a provider and tells the user once; admins are exempt; and the limit holds across two bot
 * processes (webhook mode) sharing one Redis.
 */
describe('per-user rate limits, one process', () => {
  let telegram: FakeTelegramServer;
  let providers: FakeProviderServer;
  let bot: BotProcess;
  const user = { id: 5001, first_name: 'Quick', language_code: 'en' };
  const admin = { id: 5002, first_name: 'Boss', language_code: 'en' };

  beforeAll(async () => {
    [telegram, providers] = await Promise.all([startFakeTelegramServer(), startFakeProviderServer()]);
    bot = await startPollingBot(
      telegram,
      botEnv(telegram, providers, [FIRST_PROVIDER], {
        RATE_LIMIT_PER_MINUTE: '3',
        ADMIN_IDS: String(admin.id),
        STREAM_REPLIES: 'false',
      }),
    );
  });
  afterAll(async () => {
    await bot?.stop();
    await Promise.all([telegram?.stop(), providers?.stop()]);
  });

  it('lets 3 of 6 quick messages cost a provider call and tells the user once', async () => {
    for (let index = 1; index <= 6; index++) telegram.sendText(user, `quick ${index}`);
    // /help costs nothing and is handled after the six (one chat is handled in order).
    telegram.sendText(user, '/help');
    await telegram.waitForMessage(user.id, (message) => message.text.startsWith('Send me any text'), 10_000);

    const texts = telegram.messagesIn(user.id).map((message) => message.text);
    expect(texts.filter((text) => text.startsWith('echo: '))).toEqual([
      'echo: quick 1',
      'echo: quick 2',
      'echo: quick 3',
    ]);
    const notices = texts.filter((text) => NOTICE.test(text));
    expect(notices).toHaveLength(1);
    const seconds = Number(/wait (\d+) s/.exec(notices[0] ?? '')?.[1]);
    expect(seconds).toBeGreaterThanOrEqual(1);
    expect(seconds).toBeLessThanOrEqual(60);
    expect(texts).toHaveLength(5);
    const costly = providers.requests.filter((request) => request.messages.at(-1)?.content.startsWith('quick '));
    expect(costly.length).toBeLessThanOrEqual(3);
  });

  it('counts /translate as well, without telling the user again in the same minute', async () => {
    const since = telegram.mark();
    telegram.sendText(user, '/translate fa\nhello');
    telegram.sendText(user, '/help');
    const help = await telegram.waitForMessage(user.id, (message) => message.text.startsWith('Send me any text'), {
      since,
      timeoutMs: 10_000,
    });
    expect(telegram.messagesIn(user.id).filter((message) => message.message_id > help.message_id - 1)).toEqual([help]);
    expect(providers.requests.filter((request) => request.messages.at(-1)?.content.includes('"texts"'))).toEqual([]);
  });

  it('exempts admins', async () => {
    for (let index = 1; index <= 6; index++) telegram.sendText(admin, `boss ${index}`);
    await until(() => telegram.messagesIn(admin.id).length === 6, 'six answers to the admin');
    expect(telegram.messagesIn(admin.id).map((message) => message.text)).toEqual(
      [1, 2, 3, 4, 5, 6].map((index) => `echo: boss ${index}`),
    );
  });

  it('/usage tells a user their use today and this minute, in their language; an admin that no limit applies', async () => {
    const counting = { id: 5003, first_name: 'Count', language_code: 'en' };
    const persian = { id: 5004, first_name: 'Sara', language_code: 'fa' };
    for (const who of [counting, persian]) {
      await ask(telegram, who, 'one');
      await ask(telegram, who, 'two');
    }
    const english = await ask(telegram, counting, '/usage');
    expect(english.text.split('\n').slice(0, 2)).toEqual([
      'Today: 2 requests (no daily limit).',
      'This minute: 2 of 3.',
    ]);
    expect(english.text).toMatch(/starts again at 00:00 UTC, in (\d+ h )?\d+ min\./);
    const farsi = await ask(telegram, persian, '/usage');
    expect(farsi.text.split('\n').slice(0, 2)).toEqual(['امروز: ۲ درخواست (بدون سقف روزانه).', 'این دقیقه: ۲ از ۳.']);
    expect((await ask(telegram, admin, '/usage')).text).toMatch(
      /^You're an admin of this bot: no per-user limits apply/,
    );
    // /usage itself costs nothing.
    expect((await ask(telegram, counting, '/usage')).text.split('\n')[0]).toBe('Today: 2 requests (no daily limit).');
  });

  it('sends no drafts when STREAM_REPLIES=false', () => {
    expect(telegram.callsTo('sendMessageDraft')).toEqual([]);
    expect(crashRecords(bot)).toEqual([]);
    expect(suspiciousTexts(telegram)).toEqual([]);
  });
});

describe('per-user daily limit', () => {
  let telegram: FakeTelegramServer;
  let providers: FakeProviderServer;
  let bot: BotProcess;
  const user = { id: 5201, first_name: 'Daily', language_code: 'en' };

  beforeAll(async () => {
    [telegram, providers] = await Promise.all([startFakeTelegramServer(), startFakeProviderServer()]);
    bot = await startPollingBot(
      telegram,
      botEnv(telegram, providers, [FIRST_PROVIDER], {
        RATE_LIMIT_PER_MINUTE: '0',
        USER_DAILY_LIMIT: '2',
        STREAM_REPLIES: 'false',
      }),
    );
  });
  afterAll(async () => {
    await bot?.stop();
    await Promise.all([telegram?.stop(), providers?.stop()]);
  });

  it('answers USER_DAILY_LIMIT requests a day, then says once when to come back', async () => {
    for (let index = 1; index <= 4; index++) telegram.sendText(user, `daily ${index}`);
    telegram.sendText(user, '/help');
    await telegram.waitForMessage(user.id, (message) => message.text.startsWith('Send me any text'), 10_000);

    const texts = telegram.messagesIn(user.id).map((message) => message.text);
    expect(texts).toHaveLength(4);
    expect(texts.slice(0, 2)).toEqual(['echo: daily 1', 'echo: daily 2']);
    expect(texts[2]).toMatch(/^You've reached today's limit of messages\. Come back in about \d+ h\.$/);
    expect(providers.requests).toHaveLength(2);
    // The refused ones cost nothing and do not show as used.
    expect((await ask(telegram, user, '/usage')).text.split('\n')[0]).toBe('Today: 2 requests of 2 — 0 left.');
  });
});

describe('per-user rate limits, two webhook processes sharing Redis', () => {
  let telegram: FakeTelegramServer;
  let providers: FakeProviderServer;
  let redis: TestRedis;
  const bots: BotProcess[] = [];
  const urls: string[] = [];
  const secret = 'e2e-webhook-secret_0123456789';
  const user = { id: 5101, first_name: 'Twice', language_code: 'en' };

  beforeAll(async () => {
    [telegram, providers, redis] = await Promise.all([
      startFakeTelegramServer({ allowHttpWebhooks: true }),
      startFakeProviderServer(),
      startTestRedis(),
    ]);
    for (let index = 0; index < 2; index++) {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}/hook`;
      const bot = startBotProcess(
        botEnv(telegram, providers, [FIRST_PROVIDER], {
          REDIS_URL: redis.url,
          RATE_LIMIT_PER_MINUTE: '3',
          WEBHOOK_URL: url,
          WEBHOOK_SECRET: secret,
          PORT: String(port),
          STREAM_REPLIES: 'false',
        }),
      );
      bots.push(bot);
      urls.push(url);
      await bot.waitForLog((record) => record.msg === 'webhook server started', 15_000);
    }
  });
  afterAll(async () => {
    await Promise.all(bots.map((bot) => bot.stop()));
    await Promise.all([telegram?.stop(), providers?.stop(), redis?.stop()]);
  });

  it('registers the webhook with its secret and never polls', () => {
    expect(telegram.callsTo('setWebhook').map((call) => call.params.secret_token)).toEqual([secret, secret]);
    expect(telegram.callsTo('getUpdates')).toEqual([]);
  });

  it('answers 401 to an update without the right secret', async () => {
    const update = telegram.sendText(user, 'sneaky');
    expect(await telegram.deliverWebhook(urls[0]!, update, 'wrong-secret')).toBe(401);
    expect(await telegram.deliverWebhook(urls[1]!, update, null)).toBe(401);
  });

  it('accepts updates only as Telegram sends them: POST, at the webhook path, as JSON', async () => {
    const headers = { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': secret };
    const base = urls[0]!;
    expect((await fetch(base, { method: 'GET', headers })).status).toBe(404);
    expect((await fetch(base.replace('/hook', '/other'), { method: 'POST', headers, body: '{}' })).status).toBe(404);
    expect((await fetch(base, { method: 'POST', headers, body: 'not json' })).status).toBe(400);
    expect((await fetch(base, { method: 'POST', headers, body: '{"no":"update_id"}' })).status).toBe(400);
  });

  it('holds the limit across both processes: 3 provider calls and one notice for 6 messages', async () => {
    for (let index = 1; index <= 6; index++) {
      const update = telegram.sendText(user, `alternate ${index}`);
      expect(await telegram.deliverWebhook(urls[index % 2]!, update)).toBe(200);
    }
    // Each process handles one chat in order, so once both have answered /help, all six are handled.
    for (const url of urls) {
      const since = telegram.mark();
      const help = telegram.sendText(user, '/help');
      expect(await telegram.deliverWebhook(url, help)).toBe(200);
      await telegram.waitForMessage(user.id, (message) => message.text.startsWith('Send me any text'), {
        since,
        timeoutMs: 10_000,
      });
    }

    const texts = telegram.messagesIn(user.id).map((message) => message.text);
    expect(texts.filter((text) => text.startsWith('echo: alternate'))).toHaveLength(3);
    expect(texts.filter((text) => NOTICE.test(text))).toHaveLength(1);
    expect(
      providers.requests.filter((request) => request.messages.at(-1)?.content.startsWith('alternate')),
    ).toHaveLength(3);
    expect(texts.some((text) => text.includes('sneaky'))).toBe(false);
  });

  it('keeps the webhook secret and the token out of the logs', () => {
    for (const bot of bots) {
      expect(crashRecords(bot)).toEqual([]);
      expect(suspiciousTexts(telegram)).toEqual([]);
      for (const line of bot.lines) {
        expect(line).not.toContain(secret);
        expect(line).not.toContain(DEFAULT_TOKEN);
      }
    }
  });
});
