import { Writable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { configSecrets, createConfig } from '../../bot/config';
import { createLogger } from '../../bot/logger';
import { maskSecret } from '../../providers/shared/secrets';
import { envVar, FIRST_PROVIDER } from '../helpers/providers';

const TOKEN = '1234567:AAHloggerTestToken_0123456789abcdefgh';
const PROVIDER_KEY = 'gsk_loggerTestProviderKey00000000000000001';
const WEBHOOK_SECRET = 'whsec_loggerTestWebhookSecret_0123456789';
const REDIS_PASSWORD = 'p@ss:word/loggerTest-0123456789';

/** A logger built as main.ts builds it, writing into an array of lines. */
function capturedLogger(): { lines: string[]; logger: ReturnType<typeof createLogger> } {
  const config = createConfig({
    BOT_TOKEN: TOKEN,
    [envVar(FIRST_PROVIDER, 'API_KEY')]: PROVIDER_KEY,
    WEBHOOK_URL: 'https://bot.example.com/telegram/hook',
    WEBHOOK_SECRET,
    REDIS_URL: `redis://:${encodeURIComponent(REDIS_PASSWORD)}@redis.example.com:6379`,
  });
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(
        ...chunk
          .toString('utf8')
          .split('\n')
          .filter((line) => line !== ''),
      );
      done();
    },
  });
  return { lines, logger: createLogger({ level: 'debug', secrets: configSecrets(config), destination }) };
}

/**
 * The logger is the last line of defence: whatever a call site passes — an SDK error quoting a
 * request URL, a cause chain, a config echo — no configured secret is written in full, only masked.
 */
describe('log redaction', () => {
  it('masks every configured secret wherever it hides in a line', async () => {
    const { lines, logger } = capturedLogger();
    const fetchError = new Error(`request to http://127.0.0.1/bot${TOKEN}/sendMessage failed, reason: socket hang up`);
    logger.debug({ err: new Error('Network request failed!', { cause: fetchError }) }, 'telegram call failed');
    logger.info({ headers: { authorization: `Bearer ${PROVIDER_KEY}` }, apiKey: PROVIDER_KEY }, 'provider request');
    logger.warn(
      { url: `redis://:${encodeURIComponent(REDIS_PASSWORD)}@redis.example.com` },
      `password ${REDIS_PASSWORD}`,
    );
    logger.error({ nested: { deeper: [`secret_token=${WEBHOOK_SECRET}`] } }, `key ${PROVIDER_KEY} rejected`);
    logger.flush();
    await new Promise((resolve) => setImmediate(resolve));

    expect(lines).toHaveLength(4);
    const all = lines.join('\n');
    for (const secret of [TOKEN, PROVIDER_KEY, WEBHOOK_SECRET, REDIS_PASSWORD, encodeURIComponent(REDIS_PASSWORD)]) {
      expect(all).not.toContain(secret);
    }
    expect(all).toContain(`bot${maskSecret(TOKEN)}/sendMessage`);
    expect(all).toContain(`key ${maskSecret(PROVIDER_KEY)} rejected`);
    expect(all).toContain(`secret_token=${maskSecret(WEBHOOK_SECRET)}`);
  });

  it('censors fields named like secrets even when the secret is not configured', async () => {
    const { lines, logger } = capturedLogger();
    const unknown = 'sk-or-v1-notConfiguredAnywhere0123456789';
    logger.info({ apiKey: unknown, request: { headers: { Authorization: `Bearer ${unknown}` } } }, 'provider request');
    logger.child({ update_id: 7 }).warn({ token: unknown, nested: { botToken: unknown }, count: 3 }, 'child line');
    logger.info({ provider: FIRST_PROVIDER, tokens: 12 }, 'answered');
    logger.flush();
    await new Promise((resolve) => setImmediate(resolve));

    expect(lines).toHaveLength(3);
    expect(lines.join('\n')).not.toContain(unknown);
    const [first, second, third] = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(first).toMatchObject({ apiKey: '[redacted]', request: { headers: { Authorization: '[redacted]' } } });
    expect(second).toMatchObject({ update_id: 7, token: '[redacted]', nested: { botToken: '[redacted]' }, count: 3 });
    // Fields merely like a secret's name are left alone.
    expect(third).toMatchObject({ provider: FIRST_PROVIDER, tokens: 12 });
  });
});
