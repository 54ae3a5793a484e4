import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { en } from '../../bot/locales/en';
import { maskSecret } from '../../providers/shared/secrets';
import { dialectFor, type FakeProviderServer, startFakeProviderServer } from '../fakes/provider-server';
import { fakeTranslator } from '../fakes/provider-server/translator';
import {
  DEFAULT_TOKEN,
  type FakeTelegramServer,
  startFakeTelegramServer,
  telegramErrors,
} from '../fakes/telegram-server';
import {
  answered,
  botEnv,
  crashRecords,
  envVar,
  FIRST_PROVIDER,
  keyEnv,
  PROVIDER_NAMES,
  SECOND_PROVIDER,
  SHORT_TIMEOUTS,
  suspiciousTexts,
  testKey,
  testKeys,
} from '../helpers/bot-harness';
import { type BotProcess, startBotProcess } from '../helpers/bot-process';
import { freePort, startTestRedis, type TestRedis } from '../helpers/redis-server';
import { connectInspector } from '../helpers/stored-history';

/** This suite's own keys (it leaves some set aside in Redis), each long and recognisable. */
const KEYS = testKeys('security');
/** The first provider has two keys. */
const FIRST_KEY = testKey(FIRST_PROVIDER, 'security');
const SECOND_KEY = testKey(FIRST_PROVIDER, 'security', 2);
/** The third provider's key is suspended, and its refusal (in its own words, where it has them) quotes the key. */
const THIRD_PROVIDER = PROVIDER_NAMES[2] ?? '';
const WEBHOOK_SECRET = 'whsec_e2eWebhookSecret_0123456789abcdefXYZ';
/** Characters that a URL must percent-encode, so both forms of the password are looked for. */
const REDIS_PASSWORD = 'r3dis:P@ss/e2eRedisPassword-0123456789';
const MAX_MESSAGE_CHARS = 500;
const TRANSLATE_MAX_TEXTS = 5;
/** Text of updates sent without the right secret: it must leave no trace anywhere. */
const PROBE = 'forged-update-probe-7f3a9c';

interface HttpOutcome {
  readonly status: number | string;
  readonly body: string;
}

/** A POST on its own connection; a reset connection is reported by its error code, not thrown. */
function post(url: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<HttpOutcome> {
  return new Promise((resolve) => {
    const req = request(
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers },
        agent: false,
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (part: Buffer) => parts.push(part));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8') }));
        res.on('error', (error: NodeJS.ErrnoException) => resolve({ status: error.code ?? error.message, body: '' }));
      },
    );
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ status: error.code ?? error.message, body: '' }));
    req.end(body);
  });
}

async function get(url: string): Promise<HttpOutcome> {
  const response = await fetch(url);
  return { status: response.status, body: await response.text() };
}

/**
 * Security of the built bot in webhook mode, with every secret set to something recognisable —
 * every provider's keys (the first with two), the bot token, the webhook secret and a Redis password —
 * and LOG_LEVEL=debug: a session heavy with faults (providers quoting the key they were sent in
 * their errors, Telegram answering 5xx, 429 and dropping connections) plus /stats and /metrics
 * leaves no secret in full in any log line, Telegram call, /stats message or endpoint. Updates
 * without the right secret header are refused before any work, and input caps (message length,
 * texts per /translate, update size) are enforced with clear replies.
 */
describe('security: secrets, webhook secret, input caps', () => {
  let redis: TestRedis;
  let inspector: Redis;
  let telegram: FakeTelegramServer;
  let providers: FakeProviderServer;
  let bot: BotProcess;
  let hookUrl: string;
  let opsBase: string;
  const scraped: HttpOutcome[] = [];
  const admin = { id: 7501, first_name: 'Ada', language_code: 'en' };
  const user = { id: 7502, first_name: 'Uma', language_code: 'en' };
  const secrets = [
    ...Object.values(KEYS),
    SECOND_KEY,
    DEFAULT_TOKEN,
    WEBHOOK_SECRET,
    REDIS_PASSWORD,
    encodeURIComponent(REDIS_PASSWORD),
  ];

  beforeAll(async () => {
    [redis, telegram, providers] = await Promise.all([
      startTestRedis({ password: REDIS_PASSWORD }),
      startFakeTelegramServer({ allowHttpWebhooks: true }),
      startFakeProviderServer(),
    ]);
    inspector = await connectInspector(redis.url);
    // The first provider rejects one key and rate-limits the other, the second fails, the third
    // answers that its key is suspended: each quoting the key it was sent. The rest answer (and
    // translate).
    const translator = fakeTranslator();
    providers.setHandler((request) => {
      const key = request.apiKey ?? '';
      switch (request.dialect) {
        case FIRST_PROVIDER:
          return key === SECOND_KEY
            ? {
                type: 'error',
                status: 429,
                headers: { 'retry-after': '60' },
                body: { error: { message: `Rate limit reached for key ${key}`, code: 'rate_limit_exceeded' } },
              }
            : { type: 'error', status: 401, body: { error: { message: `Invalid API Key: ${key}` } } };
        case SECOND_PROVIDER:
          return { type: 'error', status: 500, body: { message: `internal error while serving ${key}` } };
        case THIRD_PROVIDER:
          return (
            dialectFor(THIRD_PROVIDER).errors.keySuspended?.(key) ?? {
              type: 'error',
              status: 403,
              body: { error: { message: `Permission denied: key ${key} has been suspended.` } },
            }
          );
        default:
          return translator(request);
      }
    });
    const [port, metricsPort] = [await freePort(), await freePort()];
    hookUrl = `http://127.0.0.1:${port}/telegram/hook`;
    opsBase = `http://127.0.0.1:${metricsPort}`;
    bot = startBotProcess(
      botEnv(telegram, providers, PROVIDER_NAMES, {
        ...SHORT_TIMEOUTS,
        ...keyEnv(KEYS),
        [envVar(FIRST_PROVIDER, 'API_KEY_2')]: SECOND_KEY,
        REDIS_URL: redis.url,
        WEBHOOK_URL: hookUrl,
        WEBHOOK_SECRET,
        PORT: String(port),
        METRICS_PORT: String(metricsPort),
        ADMIN_IDS: String(admin.id),
        LOG_LEVEL: 'debug',
        RATE_LIMIT_PER_MINUTE: '0',
        MAX_MESSAGE_CHARS: String(MAX_MESSAGE_CHARS),
        TRANSLATE_MAX_TEXTS: String(TRANSLATE_MAX_TEXTS),
        BREAKER_FAILURE_THRESHOLD: '10',
      }),
    );
    await bot.waitForLog((record) => record.msg === 'webhook server started', 15_000);
  });
  afterAll(async () => {
    await bot?.stop();
    inspector?.disconnect();
    await Promise.all([telegram?.stop(), providers?.stop(), redis?.stop()]);
  });

  /** Delivers a user's text through the webhook, as Telegram would; resolves with the update. */
  async function deliver(from: typeof user, text: string) {
    const update = telegram.sendText(from, text);
    expect(await telegram.deliverWebhook(hookUrl, update)).toBe(200);
    return update;
  }

  /** Delivers a text and resolves with the bot's first message after it. */
  async function reply(from: typeof user, text: string): Promise<string> {
    const since = telegram.mark();
    await deliver(from, text);
    const message = await telegram.waitForMessage(from.id, (sent) => sent.fromBot, { since, timeoutMs: 15_000 });
    return message.text;
  }

  describe('a session heavy with faults', () => {
    it('answers through the pool while providers fail quoting their keys and Telegram fails', async () => {
      telegram.failNext('sendMessage', { status: 502, body: '<html>502 Bad Gateway</html>' });
      telegram.failNext('sendMessageDraft', telegramErrors.tooManyRequests(1));
      telegram.failNext('sendChatAction', { drop: true });
      const update = await deliver(user, 'hello pool');
      await answered(bot, update, 15_000);
      expect(telegram.messagesIn(user.id).map((message) => message.text)).toEqual(['echo: hello pool']);
      expect(providers.requestsFor(THIRD_PROVIDER)).toHaveLength(1);
      expect(
        providers
          .requestsFor(FIRST_PROVIDER)
          .map((request) => request.apiKey)
          .sort(),
      ).toEqual([FIRST_KEY, SECOND_KEY].sort());
      // Redis, behind its password, holds the conversation.
      expect(await inspector.lrange(`sb:history:{u:${user.id}}`, 0, -1)).toHaveLength(2);
    });

    it('translates, and shows an admin /stats with keys masked', async () => {
      expect(await reply(user, '/translate fa\none\ntwo')).toBe('fa:one\nfa:two');
      const since = telegram.mark();
      await deliver(admin, '/stats');
      await telegram.waitForMessage(admin.id, (message) => message.fromBot, { since, timeoutMs: 10_000 });
      const stats = telegram
        .messagesIn(admin.id)
        .map((message) => message.text)
        .join('\n');
      for (const key of [...Object.values(KEYS), SECOND_KEY]) expect(stats).toContain(maskSecret(key));
      expect(stats).toContain('rejected key');
    });

    it('serves /metrics, /readyz and /healthz with keys masked', async () => {
      for (const path of ['/metrics', '/readyz', '/healthz']) scraped.push(await get(`${opsBase}${path}`));
      const metrics = scraped[0]?.body ?? '';
      expect(metrics).toContain(`key="${maskSecret(FIRST_KEY)}"`);
      expect(metrics).toContain('switchboard_telegram_api_errors_total');
      expect(scraped[2]).toEqual({ status: 200, body: '{"status":"ok"}' });
    });
  });

  describe('webhook updates without the right secret', () => {
    it.each([
      ['a wrong secret', 'whsec_not_the_right_one'],
      ['no secret at all', null],
      ['the secret with one character changed', `${WEBHOOK_SECRET.slice(0, -1)}x`],
    ])('with %s are refused with 401 before any work', async (_name, secret) => {
      const since = telegram.mark();
      const providerCalls = providers.requests.length;
      const linesBefore = bot.lines.length;
      const forged = telegram.sendText(user, `${PROBE} ${String(secret)}`);
      expect(await telegram.deliverWebhook(hookUrl, forged, secret)).toBe(401);

      // A good update after it is handled: had the forged one been taken, it would be done by then.
      await answered(bot, await deliver(user, 'fence'));
      const asked = providers.requests.slice(providerCalls).map((request) => request.messages.at(-1)?.content);
      expect(new Set(asked)).toEqual(new Set(['fence']));
      expect(telegram.calls.slice(since).filter((call) => JSON.stringify(call.params).includes(PROBE))).toEqual([]);
      const newLines = bot.lines.slice(linesBefore);
      expect(
        newLines.filter((line) => line.includes(PROBE) || line.includes(`"update_id":${forged.update_id}`)),
      ).toEqual([]);
    });

    it('refuses an oversized body without the secret with 401, not by reading it', async () => {
      const huge = JSON.stringify({ update_id: 1, message: { text: PROBE.repeat(100_000) } });
      const outcome = await post(hookUrl, huge, { 'x-telegram-bot-api-secret-token': 'wrong' });
      expect(outcome.status).toBe(401);
    });
  });

  describe('input caps', () => {
    it(`refuses a message over MAX_MESSAGE_CHARS (${MAX_MESSAGE_CHARS}) without asking a provider; takes one at it`, async () => {
      const providerCalls = providers.requests.length;
      expect(await reply(user, 'x'.repeat(MAX_MESSAGE_CHARS + 1))).toBe(
        en.tooLong(MAX_MESSAGE_CHARS + 1, MAX_MESSAGE_CHARS),
      );
      expect(providers.requests.length).toBe(providerCalls);
      const atLimit = 'y'.repeat(MAX_MESSAGE_CHARS);
      expect(await reply(user, atLimit)).toBe(`echo: ${atLimit}`);
    });

    it(`refuses a /translate of more than TRANSLATE_MAX_TEXTS (${TRANSLATE_MAX_TEXTS}) texts, or of a text over the length cap`, async () => {
      const providerCalls = providers.requests.length;
      const lines = (count: number) => Array.from({ length: count }, (_, index) => `line ${index + 1}`);
      expect(await reply(user, ['/translate de', ...lines(TRANSLATE_MAX_TEXTS + 1)].join('\n'))).toBe(
        en.translate.tooMany(TRANSLATE_MAX_TEXTS + 1, TRANSLATE_MAX_TEXTS),
      );
      expect(await reply(user, `/translate de\nshort\n${'z'.repeat(MAX_MESSAGE_CHARS + 1)}`)).toBe(
        en.tooLong(MAX_MESSAGE_CHARS + 1, MAX_MESSAGE_CHARS),
      );
      expect(providers.requests.length).toBe(providerCalls);
      expect(await reply(user, ['/translate de', ...lines(TRANSLATE_MAX_TEXTS)].join('\n'))).toBe(
        lines(TRANSLATE_MAX_TEXTS)
          .map((line) => `de:${line}`)
          .join('\n'),
      );
    });

    it('answers 413 to an update body over 1 MB, handles nothing of it, and goes on', async () => {
      const providerCalls = providers.requests.length;
      const since = telegram.mark();
      const huge = JSON.stringify({
        update_id: 999_999,
        message: { message_id: 1, date: 0, chat: { id: user.id, type: 'private' }, text: PROBE.repeat(50_000) },
      });
      expect(Buffer.byteLength(huge)).toBeGreaterThan(1_000_000);
      const outcome = await post(hookUrl, huge, { 'x-telegram-bot-api-secret-token': WEBHOOK_SECRET });
      expect(outcome.status).toBe(413);

      expect(await reply(user, 'after the big one')).toBe('echo: after the big one');
      const asked = providers.requests.slice(providerCalls).map((request) => request.messages.at(-1)?.content);
      expect(new Set(asked)).toEqual(new Set(['after the big one']));
      expect(telegram.calls.slice(since).filter((call) => JSON.stringify(call.params).includes(PROBE))).toEqual([]);
    });
  });

  describe('afterwards', () => {
    it('has no secret in full in any log line, Telegram call, /stats message or endpoint', async () => {
      scraped.push(await get(`${opsBase}/metrics`));
      // The session did log the providers' errors (masked) and the Telegram failures, at debug level.
      expect(bot.records().find((record) => record.msg === 'starting')).toMatchObject({
        config: { logLevel: 'debug' },
      });
      expect(bot.lines.some((line) => line.includes(`Invalid API Key: ${maskSecret(FIRST_KEY)}`))).toBe(true);
      expect(bot.lines.some((line) => line.includes(maskSecret(testKey(THIRD_PROVIDER, 'security'))))).toBe(true);
      expect(telegram.calls.some((call) => call.status === 502 || call.status === 'dropped')).toBe(true);

      const leaks: string[] = [];
      const check = (where: string, text: string): void => {
        for (const secret of secrets) if (text.includes(secret)) leaks.push(`${where} contains ${maskSecret(secret)}`);
      };
      for (const [index, line] of bot.lines.entries()) check(`log line ${index + 1}`, line);
      for (const call of telegram.calls) {
        // setWebhook is how Telegram learns the webhook secret: the one call that must carry it.
        const { secret_token: _secret, ...params } = call.method === 'setWebhook' ? call.params : { ...call.params };
        check(`Telegram ${call.method} #${call.index}`, JSON.stringify(params));
      }
      for (const endpoint of scraped) check('an ops endpoint', endpoint.body);
      expect(leaks).toEqual([]);
      expect(telegram.callsTo('setWebhook')[0]?.params.secret_token).toBe(WEBHOOK_SECRET);

      expect(bot.child.exitCode).toBeNull();
      expect(crashRecords(bot)).toEqual([]);
      expect(suspiciousTexts(telegram)).toEqual([]);
    });
  });
});
