import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { Env } from '../../bot/config';
import { PROVIDERS } from '../../providers/registry';
import { resolveModels } from '../../providers/router/capabilities';
import { maskSecret } from '../../providers/shared/secrets';
import { runCheckKeys } from '../../scripts/check-keys';
import { type Behaviour, dialectFor, type FakeProviderServer, startFakeProviderServer } from '../fakes/provider-server';
import { emptyDirectory, runBuiltScript } from '../helpers/cli';
import { descriptorOf, envVar, FIRST_PROVIDER } from '../helpers/providers';

/** The keys checked are the first provider's; `v('API_KEY')` is its variable. */
const PROVIDER = descriptorOf(FIRST_PROVIDER);
const v = (suffix: string): string => envVar(PROVIDER.name, suffix);

const GOOD_KEYS = ['gsk_GoodKeyNumberOne00000000000000000001', 'gsk_GoodKeyNumberTwo00000000000000000002'];
const BAD_KEY = 'gsk_BadKeyRevoked000000000000000000000003';

const invalidKey: Behaviour = {
  type: 'error',
  status: 401,
  body: { error: { message: 'Invalid API Key', type: 'invalid_request_error', code: 'invalid_api_key' } },
};

/**
 * The rate-limit headers the provider puts on an answer (its own, from its fake dialect) for a key
 * allowed 14,400 requests a day, 30 of them used.
 */
function dailyWindowHeaders(): Record<string, string> {
  const now = Date.now();
  return (
    dialectFor(PROVIDER.name).limits.successHeaders({
      limits: { requestsPerDay: 14_400 },
      now,
      requestsToday: 30,
      tokensToday: 0,
      requestsThisMinute: 0,
      tokensThisMinute: 0,
      dayEndsAt: now + 3_600_000,
      minuteWindowResetAt: now,
    }) ?? {}
  );
}

/** The fake's answer: 401 for keys containing "Bad", OK (with the provider's daily-window headers) otherwise. */
function answerByKey(
  headers: Record<string, string> = dailyWindowHeaders(),
): (request: { apiKey: string | undefined }) => Behaviour {
  return (request) => (request.apiKey?.includes('Bad') ? invalidKey : { type: 'reply', text: 'OK', headers });
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

async function run(env: Env, options: { concurrency?: number } = {}): Promise<{ code: number; output: string }> {
  let output = '';
  const code = await runCheckKeys(env, (text) => (output += text), options);
  return { code, output };
}

describe('check-keys', () => {
  let server: FakeProviderServer;
  const providerEnv = (keys: Record<string, string>): Env => ({
    [v('BASE_URL')]: server.baseUrlFor(PROVIDER.name),
    ...keys,
  });

  beforeAll(async () => {
    server = await startFakeProviderServer();
  });
  afterAll(async () => server.stop());
  beforeEach(() => server.reset());

  it('tells working keys from rejected ones, shows keys only masked and adds up the daily capacity', async () => {
    server.setHandler(answerByKey());
    const { code, output } = await run(
      providerEnv({
        [v('API_KEY')]: GOOD_KEYS[0] ?? '',
        [v('API_KEY_2')]: BAD_KEY,
        [v('API_KEYS')]: GOOD_KEYS[1] ?? '',
      }),
    );

    expect(code).toBe(0);
    for (const key of [...GOOD_KEYS, BAD_KEY]) {
      expect(output).toContain(maskSecret(key));
      expect(output).not.toContain(key);
    }
    const rows = output.split('\n').filter((line) => line.startsWith(`${PROVIDER.name} `));
    expect(rows).toHaveLength(3);
    expect(rows[0]).toMatch(/OK\s+\d+ ms\s+/);
    expect(rows[0]).toMatch(new RegExp(`\\s${escapeRegExp(PROVIDER.defaultModel)}\\s+14400 \\(reported\\)$`));
    expect(rows[1]).toContain(maskSecret(BAD_KEY));
    expect(rows[1]).toContain('auth: 401 Invalid API Key');
    expect(output).toContain('Working keys: 2 of 3');
    expect(output).toContain('Daily capacity of the working keys: 28800 requests/day');
    // Each key was tried exactly once, with the probe prompt and a tiny output limit.
    expect(server.requests.map((request) => request.apiKey).sort()).toEqual([...GOOD_KEYS, BAD_KEY].sort());
    expect(server.requests[0]?.messages).toEqual([{ role: 'user', content: 'Reply with the single word OK.' }]);
    // (`max_completion_tokens`, `max_tokens` or `maxOutputTokens`, as the wire format names it)
    expect(JSON.stringify(server.requests[0]?.body)).toMatch(/"max\w*tokens":5[,}]/i);
  });

  it('falls back to the configured daily limit, and says so when a key has none', async () => {
    server.setHandler(answerByKey({}));
    const configured = await run(providerEnv({ [v('API_KEYS')]: GOOD_KEYS.join(','), [v('RPD')]: '600' }));
    expect(configured.code).toBe(0);
    expect(configured.output).toContain('600 (configured)');
    expect(configured.output).toContain(
      'Daily capacity of the working keys: 1200 requests/day (2 keys with a known limit)',
    );

    const unknown = await run(providerEnv({ [v('API_KEY')]: GOOD_KEYS[0] ?? '', [v('RPD')]: '0' }));
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
    const { code, output } = await run(
      providerEnv({ [v('API_KEYS')]: `${BAD_KEY},gsk_AnotherBadKey00000000000000000004` }),
      {
        concurrency: 1,
      },
    );
    expect(code).toBe(1);
    expect(output).toContain('rate_limited: 429');
    expect(output).toContain('auth: 401 Invalid API Key');
    expect(output).toContain('Working keys: 0 of 2');
    expect(output).not.toContain('Daily capacity');
  });

  it('gives up on a key that does not answer within the attempt timeout and still checks the others', async () => {
    server.setHandler((request) => (request.apiKey === GOOD_KEYS[1] ? { type: 'hang' } : answerByKey()(request)));
    const started = Date.now();
    const { code, output } = await run(
      providerEnv({ [v('API_KEYS')]: GOOD_KEYS.join(','), ATTEMPT_TIMEOUT_MS: '300' }),
    );
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
    const { code } = await run(providerEnv({ [v('API_KEYS')]: keys.join(',') }), { concurrency: 2 });
    expect(code).toBe(0);
    expect(server.requests).toHaveLength(6);
    expect(mostInFlight).toBe(2);
  });

  it('lists what the pool can read and, with media, probes each media model with each key', async () => {
    server.setHandler(answerByKey());
    const env = providerEnv({ [v('API_KEY')]: GOOD_KEYS[0] ?? '', [v('API_KEY_2')]: BAD_KEY });
    const plain = await run(env);
    expect(plain.output).toMatch(
      /\nWhat the pool can read:\n {2}photos and images: .+\n {2}voice notes \(transcription\): .+\n {2}PDFs: .+\n/,
    );
    expect(server.requests.every((request) => request.media.length === 0)).toBe(true);

    server.reset();
    server.setHandler(answerByKey());
    let output = '';
    const code = await runCheckKeys(env, (text) => (output += text), { media: true });
    expect(code).toBe(0);
    const { capabilities, extraModels } = resolveModels(PROVIDER, {
      model: PROVIDER.defaultModel,
      limits: PROVIDER.defaultLimits,
    });
    const probes = [capabilities, ...extraModels].reduce(
      (sum, model) =>
        sum +
        (model.operations.includes('chat') && model.inputs.includes('image') ? 1 : 0) +
        (model.operations.includes('transcription') ? 1 : 0),
      0,
    );
    const mediaRequests = server.requests.filter((request) => request.media.length > 0);
    expect(mediaRequests).toHaveLength(probes * 2);
    for (const request of mediaRequests) {
      // A valid PNG to the vision models, a WAV to those that transcribe.
      expect(['89504e47', '52494646']).toContain(request.media[0]?.head);
      expect(request.media[0]?.valid).toBe(true);
    }
    const mediaRows = output.split('\n').filter((line) => / (vision|transcription) /.test(line));
    expect(mediaRows).toHaveLength(probes * 2);
    expect(mediaRows.filter((line) => line.includes(maskSecret(GOOD_KEYS[0] ?? '')) && / OK /.test(line))).toHaveLength(
      probes,
    );
    expect(mediaRows.filter((line) => line.includes('auth: 401'))).toHaveLength(probes);
    expect(output).not.toContain(BAD_KEY);
  });

  it('exits 2 with the configuration error, and without echoing keys', async () => {
    const { code, output } = await run({ [v('API_KEY')]: GOOD_KEYS[0] ?? '', [v('BASE_URL')]: 'not a url' });
    expect(code).toBe(2);
    expect(output).toContain(`${v('BASE_URL')}: not a URL`);
    expect(output).not.toContain(GOOD_KEYS[0]);
    expect(server.requests).toHaveLength(0);
  });

  it('exits 2 and explains how to add a key when none is configured', async () => {
    const { code, output } = await run({ [v('API_KEY')]: '' });
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
      writeFileSync(
        path.join(directory.path, '.env'),
        `${v('API_KEY_2')}=${BAD_KEY}\n${v('API_KEY')}=overridden-by-env\n`,
      );
      const { code, stdout } = await runCli({
        [v('BASE_URL')]: server.baseUrlFor(PROVIDER.name),
        [v('API_KEY')]: GOOD_KEYS[0] ?? '',
      });

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
