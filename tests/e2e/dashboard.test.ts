import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type Browser, chromium } from 'playwright-core';
import { maskSecret } from '../../providers/shared/secrets';
import { dialectFor } from '../fakes/provider-server';
import { DEFAULT_TOKEN, startFakeTelegramServer } from '../fakes/telegram-server';
import {
  ask,
  botEnv,
  FIRST_PROVIDER,
  type RedisBotWorld,
  SECOND_PROVIDER,
  startRedisBotWorld,
  testKey,
} from '../helpers/bot-harness';
import { startBotProcess } from '../helpers/bot-process';
import { PROJECT_ROOT } from '../helpers/built';
import { exposedMetrics, queriedMetrics, readGrafanaDashboard } from '../helpers/grafana';
import { freePort } from '../helpers/redis-server';

/** Debian's Chromium, or CHROMIUM_PATH: the test drives a real browser and never downloads one. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = path.join(PROJECT_ROOT, 'artifacts');
const TOKEN = 'dashboard-token_0123456789abcdef';
const FIRST_KEY = testKey(FIRST_PROVIDER, 'e2e');
const SECOND_KEY = testKey(SECOND_PROVIDER, 'e2e');

interface DashboardJson {
  process: { id: string; version: string; uptimeSeconds: number };
  processes: { id: string; self: boolean; version: string; mode: string }[];
  pool: {
    providers: {
      name: string;
      requestsToday: number;
      keys: { maskedKey: string; requestsToday: number }[];
    }[];
  };
  users: { activeToday: number; top: { userId: string; requests: number }[] };
  intake: { backlog: number; backlogLimit: number } | undefined;
  timeline: {
    scope: string;
    minutes: number[];
    attempts: number[];
    successes: number[];
    failures: number[];
    fallbacks: number[];
    latencyP50Ms: (number | null)[];
    latencyP95Ms: (number | null)[];
    lastHour: { attempts: number; successRate: number; fallbacks: number };
  };
}

async function read(at: string): Promise<DashboardJson> {
  const response = await fetch(`${at}/dashboard/data.json`, { headers: { authorization: `Bearer ${TOKEN}` } });
  return (await response.json()) as DashboardJson;
}

const sum = (values: readonly (number | null)[]): number => values.reduce<number>((total, v) => total + (v ?? 0), 0);

describe('the admins’ dashboard', () => {
  let world: RedisBotWorld;
  let base: string;

  beforeAll(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    world = await startRedisBotWorld([FIRST_PROVIDER, SECOND_PROVIDER], {
      METRICS_PORT: String(port),
      DASHBOARD_TOKEN: TOKEN,
      STREAM_REPLIES: 'false',
    });
    // Answers take a little while (so latencies show), and one first attempt fails over to the
    // second provider (a failure and a fallback on the charts).
    world.providers.setHandler(() => ({ type: 'reply', text: 'An answer.', delayMs: 40 + Math.random() * 60 }));
    world.providers.enqueue(dialectFor(FIRST_PROVIDER).errors.serverError());
    const users = [
      { id: 3101, first_name: 'Ana' },
      { id: 3102, first_name: 'Bo' },
      { id: 3103, first_name: 'Cy' },
    ];
    for (const [index, user] of [...users, users[0], users[0]].entries()) {
      if (user === undefined) continue;
      const reply = await ask(world.telegram, user, `question ${index}`, { timeoutMs: 15_000 });
      expect(reply.text).toBe('An answer.');
    }
  }, 60_000);
  afterAll(async () => {
    await world?.stop();
  });

  it('refuses every dashboard request without the token, with a bare 401', async () => {
    const refused = [
      fetch(`${base}/dashboard`),
      fetch(`${base}/dashboard/`),
      fetch(`${base}/dashboard/data.json`),
      fetch(`${base}/dashboard/uplot.min.js`),
      fetch(`${base}/dashboard/dashboard.js`),
      fetch(`${base}/dashboard?token=wrong-token_0123456789abcdef`, { redirect: 'manual' }),
      fetch(`${base}/dashboard?token=`, { redirect: 'manual' }),
      fetch(`${base}/dashboard/data.json`, { headers: { authorization: `Bearer ${TOKEN}x` } }),
      fetch(`${base}/dashboard/data.json`, { headers: { authorization: `Bearer ${TOKEN.slice(0, -1)}` } }),
      fetch(`${base}/dashboard/data.json`, { headers: { cookie: `sb_dashboard=${TOKEN}` } }),
    ];
    for (const response of await Promise.all(refused)) {
      expect(response.status).toBe(401);
      expect(await response.text()).toBe('Unauthorized\n');
      expect(response.headers.get('set-cookie')).toBeNull();
    }
    // The other ops endpoints are as they were.
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('serves the data with the token: pool, keys masked, users, intake, processes and a timeline with data', async () => {
    const response = await fetch(`${base}/dashboard/data.json`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const text = await response.text();
    for (const secret of [TOKEN, DEFAULT_TOKEN, FIRST_KEY, SECOND_KEY]) expect(text).not.toContain(secret);
    const data = JSON.parse(text) as DashboardJson;

    expect(data.timeline.scope).toBe('process');
    expect(data.timeline.minutes.length).toBe(data.timeline.attempts.length);
    expect(sum(data.timeline.attempts)).toBeGreaterThanOrEqual(6);
    expect(sum(data.timeline.successes)).toBe(5);
    expect(sum(data.timeline.failures)).toBeGreaterThanOrEqual(1);
    expect(sum(data.timeline.fallbacks)).toBeGreaterThanOrEqual(1);
    expect(sum(data.timeline.latencyP50Ms)).toBeGreaterThan(0);
    expect(sum(data.timeline.latencyP95Ms)).toBeGreaterThan(0);
    expect(data.timeline.lastHour.attempts).toBe(sum(data.timeline.attempts));

    const keys = data.pool.providers.flatMap((provider) => provider.keys.map((key) => key.maskedKey));
    expect(keys).toEqual(expect.arrayContaining([maskSecret(FIRST_KEY), maskSecret(SECOND_KEY)]));
    expect(sum(data.pool.providers.map((provider) => provider.requestsToday))).toBeGreaterThanOrEqual(6);

    expect(data.users.activeToday).toBe(3);
    expect(data.users.top[0]).toEqual({ userId: '3101', requests: 3 });
    expect(data.intake).toMatchObject({ backlog: expect.any(Number), backlogLimit: expect.any(Number) });
    expect(data.processes).toEqual([expect.objectContaining({ id: data.process.id, self: true })]);
    expect(data.process.version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('renders in headless Chromium: the token link starts a session, the charts draw the data, no console errors', async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `Chromium is not at ${CHROMIUM}: install Debian's package (apt-get install -y chromium) or set CHROMIUM_PATH. The dashboard test needs a real browser.`,
      );
    }
    let browser: Browser | undefined;
    try {
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
      const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
      const page = await context.newPage();
      const problems: string[] = [];
      const foreign: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error' || message.type() === 'warning') problems.push(`console: ${message.text()}`);
      });
      page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
      page.on('requestfailed', (request) => problems.push(`request failed: ${request.url()}`));
      page.on('request', (request) => {
        if (!request.url().startsWith(`${base}/`)) foreign.push(request.url());
      });

      const response = await page.goto(`${base}/dashboard?token=${TOKEN}`);
      expect(response?.status()).toBe(200);
      expect(page.url()).toBe(`${base}/dashboard`); // the token left the address bar
      const cookies = await context.cookies();
      expect(cookies).toEqual([
        expect.objectContaining({ name: 'sb_dashboard', httpOnly: true, sameSite: 'Strict', path: '/dashboard' }),
      ]);
      expect(cookies[0]?.value).not.toContain(TOKEN);

      await page.waitForSelector('body[data-loaded="true"]', { timeout: 15_000 });
      for (const chart of ['chart-attempts', 'chart-latency', 'chart-success', 'chart-hedges']) {
        expect(await page.locator(`#${chart} canvas`).count()).toBe(1);
      }
      // The attempts chart drew something: its canvas is not blank.
      // (A string: the test kit compiles without the DOM's types.)
      const painted = Number(
        await page.evaluate(`(() => {
          const canvas = document.querySelector('#chart-attempts canvas');
          const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
          let coloured = 0;
          for (let index = 3; index < pixels.length; index += 4) if (pixels[index] > 0) coloured += 1;
          return coloured;
        })()`),
      );
      expect(painted).toBeGreaterThan(100);
      expect(await page.locator('#providers tbody tr.key').count()).toBe(2);
      expect(await page.locator('#top-users tbody tr').count()).toBe(3);
      expect(await page.textContent('#active-users')).toBe('3');
      expect(await page.textContent('#success-rate')).toMatch(/%$/);

      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard.png'), fullPage: true });

      // It refreshes by itself: a new answer shows up without reloading.
      await ask(world.telegram, { id: 3104, first_name: 'Di' }, 'one more', { timeoutMs: 15_000 });
      const deadline = Date.now() + 15_000;
      while ((await page.textContent('#active-users')) !== '4') {
        if (Date.now() > deadline) throw new Error('the page did not refresh to show the fourth user');
        await new Promise((resolve) => setTimeout(resolve, 200));
      }

      expect(problems).toEqual([]);
      expect(foreign).toEqual([]);
    } finally {
      await browser?.close();
    }
    // The token never reached a log line.
    expect(world.bot.lines.join('\n')).not.toContain(TOKEN);
  }, 90_000);

  it('is served on PORT in webhook mode too, and lists every process sharing the Redis until it stops', async () => {
    const webhookTelegram = await startFakeTelegramServer({ allowHttpWebhooks: true });
    const port = await freePort();
    const second = startBotProcess(
      botEnv(webhookTelegram, world.providers, [FIRST_PROVIDER, SECOND_PROVIDER], {
        REDIS_URL: world.redis.url,
        WEBHOOK_URL: `http://127.0.0.1:${port}/telegram/hook`,
        WEBHOOK_SECRET: 'dashboard-webhook-secret',
        PORT: String(port),
        DASHBOARD_TOKEN: TOKEN,
      }),
    );
    try {
      await second.waitForLog((record) => record.msg === 'webhook server started', 15_000);
      const other = `http://127.0.0.1:${port}`;
      expect((await fetch(`${other}/dashboard/data.json`)).status).toBe(401);
      const seen = await read(other);
      expect(seen.processes.map((process) => process.mode).sort()).toEqual(['polling', 'webhook']);
      expect(seen.processes.filter((process) => process.self)).toEqual([
        expect.objectContaining({ id: seen.process.id, mode: 'webhook' }),
      ]);
      // The same session cookie opens the page on either process: it is derived from the token alone.
      const login = await fetch(`${base}/dashboard?token=${TOKEN}`, { redirect: 'manual' });
      const cookie = login.headers.get('set-cookie')?.split(';')[0] ?? '';
      expect((await fetch(`${other}/dashboard`, { headers: { cookie } })).status).toBe(200);
    } finally {
      await second.stop();
      await webhookTelegram.stop();
    }
    // A process that stops takes itself off the list.
    expect((await read(base)).processes.map((process) => process.mode)).toEqual(['polling']);
  }, 40_000);

  it('has a Grafana dashboard querying only metrics this bot exposes', async () => {
    const exposed = exposedMetrics(await (await fetch(`${base}/metrics`)).text());
    expect(queriedMetrics(readGrafanaDashboard()).filter((name) => !exposed.has(name))).toEqual([]);
  });
});
