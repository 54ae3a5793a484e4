import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { Env } from '../../bot/config';
import { PROVIDERS } from '../../providers/registry';
import { maskSecret } from '../../providers/shared/secrets';
import { runCheckKeys } from '../../scripts/check-keys';
import { type Behaviour, type FakeProviderServer, startFakeProviderServer } from '../fakes/provider-server';
import { groqRateLimitHeaders } from '../fakes/provider-server/errors';
import { emptyDirectory, runBuiltScript } from '../helpers/cli';

const GOOD_KEYS = ['gsk_GoodKeyNumberOne00000000000000000001', 'gsk_GoodKeyNumberTwo00000000000000000002'];
const BAD_KEY = 'gsk_BadKeyRevoked000000000000000000000003';

const invalidKey: Behaviour = {
  type: 'error',
  status: 401,
  body: { error: { message: 'Invalid API Key', type: 'invalid_request_error', code: 'invalid_api_key' } },
};

/** The fake's answer: 401 for keys containing "Bad", OK (with Groq's daily-window headers) otherwise. */
function answerByKey(
  headers: Record<string, string> = groqRateLimitHeaders(),
): (request: { apiKey: string | undefined }) => Behaviour {
  return (request) => (request.apiKey?.includes('Bad') ? invalidKey : { type: 'reply', text: 'OK', headers });
}

async function run(env: Env, options: { concurrency?: number } = {}): Promise<{ code: number; output: string }> {
  let output = '';
  const code = await runCheckKeys(env, (text) => (output += text), options);
  return { code, output };
}

describe('check-keys', () => {
  let server: FakeProviderServer;
  const groqEnv = (keys: Record<string, string>): Env => ({ GROQ_BASE_URL: server.url('groq'), ...keys });

  beforeAll(async () => {
    server = await startFakeProviderServer();
  });
  afterAll(async () => server.stop());
  beforeEach(() => server.reset());

  it('tells working keys from rejected ones, shows keys only masked and adds up the daily capacity', async () => {
    server.setHandler(answerByKey());
    const { code, output } = await run(
      groqEnv({ GROQ_API_KEY: GOOD_KEYS[0] ?? '', GROQ_API_KEY_2: BAD_KEY, GROQ_API_KEYS: GOOD_KEYS[1] ?? '' }),
    );

    expect(code).toBe(0);
    for (const key of [...GOOD_KEYS, BAD_KEY]) {
      expect(output).toContain(maskSecret(key));
      expect(output).not.toContain(key);
    }
    const rows = output.split('\n').filter((line) => line.startsWith('groq '));
    expect(rows).toHaveLength(3);
    expect(rows[0]).toMatch(/OK\s+\d+ ms\s+llama-3\.3-70b-versatile\s+14400 \(reported\)$/);
    expect(rows[1]).toContain(maskSecret(BAD_KEY));
    expect(rows[1]).toContain('auth: 401 Invalid API Key');
    expect(output).toContain('Working keys: 2 of 3');
    expect(output).toContain('Daily capacity of the working keys: 28800 requests/day');
    // Each key was tried exactly once, with the probe prompt and a tiny output limit.
    expect(server.requests.map((request) => request.apiKey).sort()).toEqual([...GOOD_KEYS, BAD_KEY].sort());
    expect(server.requests[0]?.messages).toEqual([{ role: 'user', content: 'Reply with the single word OK.' }]);
    expect(server.requests[0]?.body).toMatchObject({ max_completion_tokens: 5 });
  });

  it('falls back to the configured daily limit, and says so when a key has none', async () => {
    server.setHandler(answerByKey({}));
    const configured = await run(groqEnv({ GROQ_API_KEYS: GOOD_KEYS.join(','), GROQ_RPD: '600' }));
    expect(configured.code).toBe(0);
    expect(configured.output).toContain('600 (configured)');
    expect(configured.output).toContain(
      'Daily capacity of the working keys: 1200 requests/day (2 keys with a known limit)',
    );

    const unknown = await run(groqEnv({ GROQ_API_KEY: GOOD_KEYS[0] ?? '', GROQ_RPD: '0' }));
    expect(unknown.output).toContain('1 working key has no known daily limit (not counted)');
    expect(unknown.output).toContain('Daily capacity of the working keys: 0 requests/day (0 keys with a known limit)');
  });

  it('exits 1 when no key works, naming each error kind', async () => {
    server.setHandler(() => invalidKey);
    server.enqueue({
      type: 'error',
      status: 429,
      headers: { 'retry-after': '7' },
      body: { error: { message: 'Rate limit reached: requests per minute (RPM)', code: 'rate_limit_exceeded' } },
    });
    const { code, output } = await run(groqEnv({ GROQ_API_KEYS: `${BAD_KEY},gsk_AnotherBadKey00000000000000000004` }), {
      concurrency: 1,
    });
    expect(code).toBe(1);
    expect(output).toContain('rate_limited: 429');
    expect(output).toContain('auth: 401 Invalid API Key');
    expect(output).toContain('Working keys: 0 of 2');
    expect(output).not.toContain('Daily capacity');
  });

  it('gives up on a key that does not answer within the attempt timeout and still checks the others', async () => {
    server.setHandler((request) => (request.apiKey === GOOD_KEYS[1] ? { type: 'hang' } : answerByKey()(request)));
    const started = Date.now();
    const { code, output } = await run(groqEnv({ GROQ_API_KEYS: GOOD_KEYS.join(','), ATTEMPT_TIMEOUT_MS: '300' }));
    expect(Date.now() - started).toBeLessThan(3000);
    expect(code).toBe(0);
    expect(output).toContain('Working keys: 1 of 2');
    expect(output.split('\n').find((line) => line.includes(maskSecret(GOOD_KEYS[1] ?? '')))).toContain('transient');
  });

  it('checks at most `concurrency` keys at a time', async () => {
    let inFlight = 0;
    let mostInFlight = 0;
    server.setHandler(async () => {
      inFlight += 1;
      mostInFlight = Math.max(mostInFlight, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 40));
      inFlight -= 1;
      return { type: 'reply', text: 'OK' };
    });
    const keys = Array.from({ length: 6 }, (_, index) => `gsk_ConcurrencyKey000000000000000000${index}`);
    const { code } = await run(groqEnv({ GROQ_API_KEYS: keys.join(',') }), { concurrency: 2 });
    expect(code).toBe(0);
    expect(server.requests).toHaveLength(6);
    expect(mostInFlight).toBe(2);
  });

  it('exits 2 with the configuration error, and without echoing keys', async () => {
    const { code, output } = await run({ GROQ_API_KEY: GOOD_KEYS[0] ?? '', GROQ_BASE_URL: 'not a url' });
    expect(code).toBe(2);
    expect(output).toContain('GROQ_BASE_URL: not a URL');
    expect(output).not.toContain(GOOD_KEYS[0]);
    expect(server.requests).toHaveLength(0);
  });

  it('exits 2 and explains how to add a key when none is configured', async () => {
    const { code, output } = await run({ GROQ_API_KEY: '' });
    expect(code).toBe(2);
    expect(output).toContain('No API keys configured');
    expect(output).toContain(`${PROVIDERS[0]?.envPrefix}_API_KEY=<your key>`);
  });

  describe('as a user runs it (node dist/scripts/check-keys.js)', () => {
    const directory = emptyDirectory('switchboard-check-keys-');
    afterAll(() => directory.remove());

    /** Runs the built CLI in an empty directory with only `env` (never the developer's real keys). */
    async function runCli(env: Record<string, string>): Promise<{ code: number; stdout: string }> {
      return runBuiltScript('scripts/check-keys.js', { cwd: directory.path, env });
    }

    it('reads keys from the environment and from .env, prints the report and exits 0', async () => {
      server.setHandler(answerByKey());
      writeFileSync(path.join(directory.path, '.env'), `GROQ_API_KEY_2=${BAD_KEY}\nGROQ_API_KEY=overridden-by-env\n`);
      const { code, stdout } = await runCli({ GROQ_BASE_URL: server.url('groq'), GROQ_API_KEY: GOOD_KEYS[0] ?? '' });

      expect(code).toBe(0);
      expect(stdout).toContain(maskSecret(GOOD_KEYS[0] ?? ''));
      expect(stdout).toContain(maskSecret(BAD_KEY));
      expect(stdout).toContain('auth: 401 Invalid API Key');
      expect(stdout).toContain('Working keys: 1 of 2');
      expect(stdout).not.toContain(GOOD_KEYS[0]);
      expect(stdout).not.toContain(BAD_KEY);
      expect(server.requests.map((request) => request.apiKey).sort()).toEqual([GOOD_KEYS[0], BAD_KEY].sort());
    });

    it('exits 2 when no key is configured', async () => {
      rmSync(path.join(directory.path, '.env'), { force: true });
      const { code, stdout } = await runCli({});
      expect(code).toBe(2);
      expect(stdout).toContain('No API keys configured');
    });
  });
});
