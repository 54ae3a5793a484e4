import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { fa } from '../../bot/locales/fa';
import { maskSecret } from '../../providers/shared/secrets';
import { type FakeProviderServer, startFakeProviderServer } from '../fakes/provider-server';
import { groqErrors } from '../fakes/provider-server/errors';
import { DEFAULT_TOKEN, type FakeTelegramServer, startFakeTelegramServer } from '../fakes/telegram-server';
import { type BotProcess, startBotProcess } from '../helpers/bot-process';
import { freePort } from '../helpers/redis-server';

const GROQ_KEY = 'gsk_metricsKeyOne000000000000000000000001';
const CEREBRAS_KEY = 'csk-metricskeytwo000000000000000000000002';

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
      GROQ_API_KEY: GROQ_KEY,
      GROQ_BASE_URL: providers.url('groq'),
      CEREBRAS_API_KEY: CEREBRAS_KEY,
      CEREBRAS_BASE_URL: providers.url('cerebras'),
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
    providers.enqueue(groqErrors.serverError());
    telegram.sendText(user, 'سلام');
    await telegram.waitForMessage(user.id, (message) => message.fromBot, 10_000);
    const { status, body } = await get(`${base}/metrics`);
    expect(status).toBe(200);
    expect(body).toContain(`switchboard_provider_attempts_total{provider="groq",key="${maskSecret(GROQ_KEY)}",outcome="transient"} 1`);
    expect(body).toContain(`switchboard_provider_attempts_total{provider="cerebras",key="${maskSecret(CEREBRAS_KEY)}",outcome="success"} 1`);
    expect(body).toContain('switchboard_fallback_answers_total{provider="cerebras"} 1');
    expect(body).toMatch(/switchboard_key_requests_left_today\{provider="groq",key="[^"]+"\} \d+/);
    expect(body).toContain('switchboard_storage_up 1');
    expect(body).toMatch(/switchboard_updates_total\{type="message"\} \d+/);
    expect(body).toContain('switchboard_process_resident_memory_bytes');
    for (const secret of [GROQ_KEY, CEREBRAS_KEY, DEFAULT_TOKEN]) expect(body).not.toContain(secret);
  });

  it('is not ready when no provider is usable', async () => {
    // Both keys rejected: set aside as bad, so no provider can serve.
    providers.setHandler(() => groqErrors.invalidKey());
    telegram.sendText(user, 'again');
    const reply = await telegram.waitForMessage(user.id, (message) => message.fromBot, 10_000);
    expect(reply.text).toBe(fa.errors.unavailable); // the user writes Persian: the notice is in Persian
    const ready = await get(`${base}/readyz`);
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.body)).toMatchObject({ status: 'not ready', providers: false });
  });
});
