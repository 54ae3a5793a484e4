import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { fa } from '../../bot/locales/fa';
import { maskSecret } from '../../providers/shared/secrets';
import { dialectFor, type FakeProviderServer, startFakeProviderServer } from '../fakes/provider-server';
import { DEFAULT_TOKEN, type FakeTelegramServer, startFakeTelegramServer } from '../fakes/telegram-server';
import { envVar, FIRST_PROVIDER, SECOND_PROVIDER, testKey } from '../helpers/bot-harness';
import { type BotProcess, startBotProcess } from '../helpers/bot-process';
import { freePort } from '../helpers/redis-server';

const FIRST_KEY = testKey(FIRST_PROVIDER, 'metrics');
const SECOND_KEY = testKey(SECOND_PROVIDER, 'metrics');

async function get(url: string): Promise<{ status: number; body: string }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.text() };
}

describe('health, readiness and metrics endpoints', () => {
  let telegram: FakeTelegramServer;
  let providers: FakeProviderServer;
  let bot: BotProcess;
  let base: string;
  const user = { id: 2001, first_name: 'Mina', language_code: 'fa' };

  beforeAll(async () => {
    telegram = await startFakeTelegramServer();
    providers = await startFakeProviderServer();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    bot = startBotProcess({
      BOT_TOKEN: DEFAULT_TOKEN,
      TELEGRAM_API_ROOT: telegram.apiRoot,
      [envVar(FIRST_PROVIDER, 'API_KEY')]: FIRST_KEY,
      [envVar(FIRST_PROVIDER, 'BASE_URL')]: providers.baseUrlFor(FIRST_PROVIDER),
      [envVar(SECOND_PROVIDER, 'API_KEY')]: SECOND_KEY,
      [envVar(SECOND_PROVIDER, 'BASE_URL')]: providers.baseUrlFor(SECOND_PROVIDER),
      STREAM_REPLIES: 'false',
      METRICS_PORT: String(port),
    });
    await telegram.waitForPolling({ timeoutMs: 15_000 });
  });
  afterAll(async () => {
    await bot.stop();
    await telegram.stop();
    await providers.stop();
  });

  it('reports liveness and readiness', async () => {
    expect(await get(`${base}/healthz`)).toEqual({ status: 200, body: '{"status":"ok"}' });
    const ready = await get(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body)).toEqual({ status: 'ready', telegram: true, storage: true, providers: true });
  });

  it('counts attempts by provider, masked key and outcome, fallbacks, and Telegram calls — never a full key', async () => {
    providers.enqueue(dialectFor(FIRST_PROVIDER).errors.serverError());
    telegram.sendText(user, 'سلام');
    await telegram.waitForMessage(user.id, (message) => message.fromBot, 10_000);
    const { status, body } = await get(`${base}/metrics`);
    expect(status).toBe(200);
    expect(body).toContain(
      `switchboard_provider_attempts_total{provider="${FIRST_PROVIDER}",key="${maskSecret(FIRST_KEY)}",outcome="transient"} 1`,
    );
    expect(body).toContain(
      `switchboard_provider_attempts_total{provider="${SECOND_PROVIDER}",key="${maskSecret(SECOND_KEY)}",outcome="success"} 1`,
    );
    expect(body).toContain(`switchboard_fallback_answers_total{provider="${SECOND_PROVIDER}"} 1`);
    expect(body).toMatch(
      new RegExp(`switchboard_key_requests_left_today\\{provider="${FIRST_PROVIDER}",key="[^"]+"\\} \\d+`),
    );
    expect(body).toContain('switchboard_storage_up 1');
    expect(body).toMatch(/switchboard_updates_total\{type="message"\} \d+/);
    expect(body).toContain('switchboard_process_resident_memory_bytes');
    for (const secret of [FIRST_KEY, SECOND_KEY, DEFAULT_TOKEN]) expect(body).not.toContain(secret);
  });

  it('is not ready when no provider is usable', async () => {
    // Both keys rejected (each provider in its own words): set aside as bad, so no provider can serve.
    providers.setHandler((request) => dialectFor(request.dialect).errors.invalidKey());
    telegram.sendText(user, 'again');
    const reply = await telegram.waitForMessage(user.id, (message) => message.fromBot, 10_000);
    expect(reply.text).toBe(fa.errors.unavailable); // the user writes Persian: the notice is in Persian
    const ready = await get(`${base}/readyz`);
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.body)).toMatchObject({ status: 'not ready', providers: false });
  });
});
