import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { afterAll, describe, expect, it } from '@jest/globals';
import {
  type ConfigError,
  configVariableNames,
  createConfig,
  createProvidersConfig,
  DEFAULT_SYSTEM_PROMPT,
  describeConfig,
  type Env,
  isConfigError,
  loadDotEnv,
} from '../../bot/config';
import { PROVIDERS } from '../../providers/registry';
import { descriptorOf, envVar, FIRST_PROVIDER } from '../helpers/providers';

const TOKEN = '123456:TEST-token-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx';
/** The provider the single-provider cases configure: the first in the registry. */
const FIRST = descriptorOf(FIRST_PROVIDER);
/** One of its variables: `v('API_KEY')` → `<ENV PREFIX>_API_KEY`. */
const v = (suffix: string): string => envVar(FIRST.name, suffix);

function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    if (isConfigError(error)) return error;
    throw error;
  }
  throw new Error('expected a ConfigError, but the config was accepted');
}

/** The message's problem lines, `VARIABLE: problem` each. */
function problemLines(error: ConfigError): string[] {
  return error.message.split('\n').slice(1);
}

describe('provider keys', () => {
  it('merges KEY, numbered KEY_n (numeric order, gaps allowed) and KEYS, trimmed and de-duplicated', () => {
    const config = createProvidersConfig({
      [v('API_KEYS')]: ' gsk_list_a , gsk_one,, gsk_two ,gsk_list_b ',
      [v('API_KEY_10')]: 'gsk_ten',
      [v('API_KEY_5')]: '  gsk_five  ',
      [v('API_KEY')]: 'gsk_one',
      [v('API_KEY_2')]: 'gsk_two',
    });
    expect(config.providers.map(({ descriptor, keys }) => ({ name: descriptor.name, keys }))).toEqual([
      { name: FIRST.name, keys: ['gsk_one', 'gsk_two', 'gsk_five', 'gsk_ten', 'gsk_list_a', 'gsk_list_b'] },
    ]);
  });

  it('enables every registered provider that has a key, with its descriptor defaults', () => {
    for (const descriptor of PROVIDERS) {
      const config = createProvidersConfig({ [`${descriptor.envPrefix}_API_KEY`]: `key-for-${descriptor.name}` });
      expect(config.providers).toHaveLength(1);
      expect(config.providers[0]).toMatchObject({
        keys: [`key-for-${descriptor.name}`],
        baseUrl: descriptor.defaultBaseUrl,
        model: descriptor.defaultModel,
        limits: descriptor.defaultLimits,
      });
      expect(config.providers[0]?.descriptor).toBe(descriptor);
    }
  });

  it('leaves a provider without keys off, including one whose key variables are empty', () => {
    const config = createProvidersConfig({ [v('API_KEY')]: '', [v('API_KEY_2')]: '   ', [v('API_KEYS')]: ' , ,' });
    expect(config.providers).toEqual([]);
    expect(config.warnings.join('\n')).toContain('no provider has an API key');
  });

  it('rejects a key with a space inside, naming the variable but not the key', () => {
    const error = configError(() => createProvidersConfig({ [v('API_KEY_2')]: 'gsk_first gsk_second' }));
    expect(error.issues).toEqual([{ variable: v('API_KEY_2'), problem: expect.stringContaining('separate') }]);
    expect(error.message).not.toContain('gsk_first');
  });

  it('warns about a variable that looks like a key variable but is not read', () => {
    const config = createProvidersConfig({ [v('API_KEY')]: 'gsk_one', [v('API_KEY_OLD')]: 'gsk_old' });
    expect(config.providers[0]?.keys).toEqual(['gsk_one']);
    expect(config.warnings).toEqual([expect.stringContaining(`${v('API_KEY_OLD')} is not read`)]);
    expect(config.warnings.join('\n')).not.toContain('gsk_old');
  });
});

describe('provider endpoint, model and limits', () => {
  it('takes a base URL without its trailing slash and a model override', () => {
    const config = createProvidersConfig({
      [v('API_KEY')]: 'gsk_one',
      [v('BASE_URL')]: 'http://127.0.0.1:9999/fake/',
      [v('MODEL')]: 'llama-3.1-8b-instant',
    });
    expect(config.providers[0]).toMatchObject({ baseUrl: 'http://127.0.0.1:9999/fake', model: 'llama-3.1-8b-instant' });
  });

  it('reports a malformed base URL and a non-http one', () => {
    expect(problemLines(configError(() => createProvidersConfig({ [v('BASE_URL')]: 'api.example.com' })))).toEqual([
      `${v('BASE_URL')}: not a URL`,
    ]);
    expect(
      problemLines(configError(() => createProvidersConfig({ [v('BASE_URL')]: 'ftp://api.example.com' }))),
    ).toEqual([`${v('BASE_URL')}: must be an http:// or https:// URL`]);
  });

  it('overrides the default limits; 0 lifts a limit, unset keeps the default', () => {
    const config = createProvidersConfig({
      [v('API_KEY')]: 'gsk_one',
      [v('RPM')]: '5',
      [v('RPD')]: '0',
      [v('TPM')]: '900',
    });
    const defaults = FIRST.defaultLimits;
    expect(config.providers[0]?.limits).toEqual({
      requestsPerMinute: 5,
      tokensPerMinute: 900,
      tokensPerDay: defaults?.tokensPerDay,
    });
  });

  it('reads a model per role: the default, another model, or none (`none`, any case)', () => {
    const defaults = createProvidersConfig({ [v('API_KEY')]: 'key-one' }).providers[0];
    const roleModels = (config: typeof defaults) => [
      ...(config?.extraModels ?? []).map((extra) => `${extra.roles.join('+')}=${extra.model}`),
    ];
    const defaultRoles = Object.entries(FIRST.roles ?? {}).filter(([, offer]) => offer?.defaultModel !== undefined);
    expect(roleModels(defaults)).toEqual(defaultRoles.map(([role, offer]) => `${role}=${offer?.defaultModel}`));

    const chosen = createProvidersConfig({
      [v('API_KEY')]: 'key-one',
      [v('VISION_MODEL')]: 'eyes-2',
      [v('TRANSCRIPTION_MODEL')]: 'NONE',
    }).providers[0];
    expect(roleModels(chosen)).toEqual(['vision=eyes-2']);
    expect(chosen?.extraModels?.[0]?.inputs).toContain('image');

    // The chat model named for a role plays it: no model of its own.
    const merged = createProvidersConfig({
      [v('API_KEY')]: 'key-one',
      [v('VISION_MODEL')]: FIRST.defaultModel,
      [v('TRANSCRIPTION_MODEL')]: 'none',
    }).providers[0];
    expect(merged?.extraModels).toEqual([]);
    expect(merged?.capabilities?.inputs).toEqual(expect.arrayContaining(['text', 'image']));
  });

  it('reports limits that are not whole non-negative numbers', () => {
    const error = configError(() => createProvidersConfig({ [v('TPM')]: '1.5', [v('RPD')]: '-1' }));
    expect(problemLines(error)).toEqual([
      `${v('RPD')}: must be a whole number ≥ 0, got "-1"`,
      `${v('TPM')}: must be a whole number ≥ 0, got "1.5"`,
    ]);
  });
});

describe('provider order and router settings', () => {
  const allKeys: Env = Object.fromEntries(PROVIDERS.map(({ envPrefix }) => [`${envPrefix}_API_KEY`, 'some-key']));
  const registryOrder = PROVIDERS.map(({ name }) => name);

  it('defaults to registry order, priority routing and the documented timings', () => {
    expect(createProvidersConfig(allKeys)).toMatchObject({
      order: registryOrder,
      routing: 'priority',
      requestDeadlineMs: 60_000,
      attemptTimeoutMs: 20_000,
      firstTokenTimeoutMs: 15_000,
      streamIdleTimeoutMs: 10_000,
      breakerFailureThreshold: 3,
      breakerOpenMs: 30_000,
      authRecheckMs: 6 * 60 * 60 * 1000,
    });
    expect(createProvidersConfig(allKeys).providers.map(({ descriptor }) => descriptor.name)).toEqual(registryOrder);
  });

  it('follows PROVIDER_ORDER (any case), then puts the unlisted providers after it in registry order', () => {
    const reversed = [...registryOrder].reverse();
    const config = createProvidersConfig({ ...allKeys, PROVIDER_ORDER: reversed.join(' , ').toUpperCase() });
    expect(config.order).toEqual(reversed);
    expect(config.providers.map(({ descriptor }) => descriptor.name)).toEqual(reversed);

    const last = registryOrder[registryOrder.length - 1] ?? '';
    const partial = createProvidersConfig({ ...allKeys, PROVIDER_ORDER: last });
    expect(partial.order).toEqual([last, ...registryOrder.filter((name) => name !== last)]);
  });

  it('rejects unknown and repeated provider names', () => {
    const unknown = configError(() => createProvidersConfig({ PROVIDER_ORDER: `${FIRST.name},nosuch` }));
    expect(problemLines(unknown)).toEqual([
      `PROVIDER_ORDER: unknown provider "nosuch" (known: ${registryOrder.join(', ')})`,
    ]);
    const repeated = configError(() =>
      createProvidersConfig({ PROVIDER_ORDER: `${FIRST.name},${FIRST.name.toUpperCase()}` }),
    );
    expect(problemLines(repeated)).toEqual([`PROVIDER_ORDER: "${FIRST.name}" is listed twice`]);
  });

  it('reads routing and timings, and rejects values out of range', () => {
    const config = createProvidersConfig({
      ROUTING: 'Fastest',
      ATTEMPT_TIMEOUT_MS: '1500',
      BREAKER_FAILURE_THRESHOLD: '5',
      AUTH_RECHECK_MS: '60000',
    });
    expect(config).toMatchObject({
      routing: 'fastest',
      attemptTimeoutMs: 1500,
      breakerFailureThreshold: 5,
      authRecheckMs: 60_000,
    });
    const error = configError(() =>
      createProvidersConfig({ ROUTING: 'random', ATTEMPT_TIMEOUT_MS: '0', BREAKER_OPEN_MS: '9999999999' }),
    );
    expect(problemLines(error)).toEqual([
      'ROUTING: must be one of priority, fastest, got "random"',
      'ATTEMPT_TIMEOUT_MS: must be a whole number ≥ 1, got "0"',
      'BREAKER_OPEN_MS: must be at most 2147483647, got "9999999999"',
    ]);
  });
});

describe('bot settings', () => {
  it('needs only BOT_TOKEN and fills in the defaults', () => {
    const config = createConfig({ BOT_TOKEN: TOKEN });
    expect(config).toMatchObject({
      botToken: TOKEN,
      telegramApiRoot: 'https://api.telegram.org',
      adminIds: [],
      allowedUserIds: [],
      redisUrl: undefined,
      rateLimitPerMinute: 10,
      userDailyLimit: 0,
      userDailyMediaLimit: 30,
      userDailyAudioSeconds: 1_800,
      historyMaxMessages: 20,
      historyTtlSeconds: 7 * 24 * 60 * 60,
      systemPrompt: DEFAULT_SYSTEM_PROMPT,
      streamReplies: true,
      translateDefaultLang: 'en',
      translateMaxTexts: 200,
      maxMessageChars: 8000,
      intakeConcurrency: 500,
      webhook: undefined,
      metricsPort: undefined,
      logLevel: 'info',
    });
    expect(config.providers.order).toEqual(PROVIDERS.map(({ name }) => name));
  });

  it('reports a missing BOT_TOKEN and a malformed one without quoting it', () => {
    expect(problemLines(configError(() => createConfig({})))).toEqual(['BOT_TOKEN: required']);
    const error = configError(() => createConfig({ BOT_TOKEN: 'bot123456:AAHshort' }));
    expect(error.issues.map(({ variable }) => variable)).toEqual(['BOT_TOKEN']);
    expect(error.message).not.toContain('AAHshort');
  });

  it('reads user id lists, de-duplicated, and names each entry that is not a user id', () => {
    const config = createConfig({ BOT_TOKEN: TOKEN, ADMIN_IDS: ' 42, 7 ,42,', ALLOWED_USER_IDS: '1' });
    expect(config.adminIds).toEqual([42, 7]);
    expect(config.allowedUserIds).toEqual([1]);
    const error = configError(() => createConfig({ BOT_TOKEN: TOKEN, ADMIN_IDS: '42,12a,-5' }));
    expect(problemLines(error)).toEqual([
      'ADMIN_IDS: "12a" is not a Telegram user id',
      'ADMIN_IDS: "-5" is not a Telegram user id',
    ]);
  });

  it('reads numbers, flags, levels and URLs, quoting the non-secret values it rejects', () => {
    const config = createConfig({
      BOT_TOKEN: TOKEN,
      TELEGRAM_API_ROOT: 'http://127.0.0.1:8081/',
      REDIS_URL: 'rediss://user:pass@redis.example:6380/1',
      RATE_LIMIT_PER_MINUTE: '0',
      USER_DAILY_MEDIA_LIMIT: '0',
      USER_DAILY_AUDIO_SECONDS: '600',
      HISTORY_MAX_MESSAGES: '2',
      STREAM_REPLIES: 'No',
      LOG_LEVEL: 'DEBUG',
      METRICS_PORT: '9464',
      SYSTEM_PROMPT: 'Be brief.',
      INTAKE_CONCURRENCY: '64',
    });
    expect(config).toMatchObject({
      telegramApiRoot: 'http://127.0.0.1:8081',
      redisUrl: 'rediss://user:pass@redis.example:6380/1',
      rateLimitPerMinute: 0,
      userDailyMediaLimit: 0,
      userDailyAudioSeconds: 600,
      historyMaxMessages: 2,
      streamReplies: false,
      logLevel: 'debug',
      metricsPort: 9464,
      systemPrompt: 'Be brief.',
      intakeConcurrency: 64,
    });
    const error = configError(() =>
      createConfig({
        BOT_TOKEN: TOKEN,
        RATE_LIMIT_PER_MINUTE: 'ten',
        USER_DAILY_MEDIA_LIMIT: '-1',
        USER_DAILY_AUDIO_SECONDS: '30 min',
        HISTORY_MAX_MESSAGES: '1',
        STREAM_REPLIES: 'maybe',
        LOG_LEVEL: 'verbose',
        REDIS_URL: 'http://localhost:6379',
        METRICS_PORT: '70000',
        INTAKE_CONCURRENCY: '0',
      }),
    );
    expect(problemLines(error)).toEqual([
      'REDIS_URL: must be a redis:// or rediss:// URL',
      'RATE_LIMIT_PER_MINUTE: must be a whole number ≥ 0, got "ten"',
      'USER_DAILY_MEDIA_LIMIT: must be a whole number ≥ 0, got "-1"',
      'USER_DAILY_AUDIO_SECONDS: must be a whole number ≥ 0, got "30 min"',
      'HISTORY_MAX_MESSAGES: must be a whole number ≥ 2, got "1"',
      'STREAM_REPLIES: must be true or false (or yes/no, 1/0), got "maybe"',
      'INTAKE_CONCURRENCY: must be a whole number ≥ 1, got "0"',
      'METRICS_PORT: must be at most 65535, got "70000"',
      'LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent, got "verbose"',
    ]);
  });
});

describe('DASHBOARD_TOKEN', () => {
  it('is off unless set, and takes a long URL-safe token', () => {
    expect(createConfig({ BOT_TOKEN: TOKEN }).dashboardToken).toBeUndefined();
    const token = 'a1b2c3d4e5f6a7b8c9d0_-.~';
    const config = createConfig({ BOT_TOKEN: TOKEN, DASHBOARD_TOKEN: token, METRICS_PORT: '9464' });
    expect(config.dashboardToken).toBe(token);
    expect(describeConfig(config).dashboard).toBe('on');
    expect(JSON.stringify(describeConfig(config))).not.toContain(token);
  });

  it('refuses a short or URL-unsafe token without quoting it', () => {
    for (const token of ['short', 'has spaces in it but long enough', 'ampersand&and#hash-0123456789']) {
      const error = configError(() => createConfig({ BOT_TOKEN: TOKEN, DASHBOARD_TOKEN: token }));
      expect(problemLines(error)).toEqual([
        'DASHBOARD_TOKEN: must be 16–256 characters from A-Z, a-z, 0-9, _, -, . and ~ (for example: openssl rand -hex 32)',
      ]);
      expect(error.message).not.toContain(token);
    }
  });
});

describe('webhook mode', () => {
  it('is off without WEBHOOK_URL, and PORT or WEBHOOK_SECRET alone are not read', () => {
    expect(
      createConfig({ BOT_TOKEN: TOKEN, PORT: 'not-a-port', WEBHOOK_SECRET: 'has spaces' }).webhook,
    ).toBeUndefined();
  });

  it('needs WEBHOOK_SECRET when WEBHOOK_URL is set', () => {
    const error = configError(() => createConfig({ BOT_TOKEN: TOKEN, WEBHOOK_URL: 'https://bot.example.com/hook' }));
    expect(problemLines(error)).toEqual(['WEBHOOK_SECRET: required in webhook mode (WEBHOOK_URL is set)']);
  });

  it('takes an https URL (http only for localhost), the path to serve and PORT defaulting to 8080', () => {
    const config = createConfig({
      BOT_TOKEN: TOKEN,
      WEBHOOK_URL: 'https://bot.example.com/telegram/hook',
      WEBHOOK_SECRET: 'Secret_value-1',
    });
    expect(config.webhook).toEqual({
      url: 'https://bot.example.com/telegram/hook',
      path: '/telegram/hook',
      secret: 'Secret_value-1',
      port: 8080,
    });
    const local = createConfig({
      BOT_TOKEN: TOKEN,
      WEBHOOK_URL: 'http://localhost:3000/hook',
      WEBHOOK_SECRET: 's',
      PORT: '3000',
    });
    expect(local.webhook?.port).toBe(3000);
    const error = configError(() =>
      createConfig({ BOT_TOKEN: TOKEN, WEBHOOK_URL: 'http://bot.example.com/hook', WEBHOOK_SECRET: 'bad secret!' }),
    );
    expect(problemLines(error)).toEqual([
      'WEBHOOK_URL: must be an https:// URL (http:// is allowed only for localhost)',
      'WEBHOOK_SECRET: must be 1–256 characters from A-Z, a-z, 0-9, _ and -',
    ]);
  });

  it('rejects a metrics port equal to the webhook port', () => {
    const error = configError(() =>
      createConfig({
        BOT_TOKEN: TOKEN,
        WEBHOOK_URL: 'https://bot.example.com/hook',
        WEBHOOK_SECRET: 'secret',
        METRICS_PORT: '8080',
      }),
    );
    expect(problemLines(error)).toEqual(['METRICS_PORT: must differ from PORT (both are 8080)']);
  });
});

describe('errors', () => {
  it('reports every problem at once, one line each, bot and providers together', () => {
    const error = configError(() =>
      createConfig({ ADMIN_IDS: '12a', [v('BASE_URL')]: 'nope', USER_DAILY_LIMIT: 'many', PROVIDER_ORDER: 'nosuch' }),
    );
    expect(error.name).toBe('ConfigError');
    expect(error.issues.map(({ variable }) => variable)).toEqual([
      'BOT_TOKEN',
      'ADMIN_IDS',
      'USER_DAILY_LIMIT',
      'PROVIDER_ORDER',
      v('BASE_URL'),
    ]);
    const lines = error.message.split('\n');
    expect(lines).toHaveLength(6);
    expect(lines).toEqual(
      expect.arrayContaining([
        'BOT_TOKEN: required',
        'ADMIN_IDS: "12a" is not a Telegram user id',
        `${v('BASE_URL')}: not a URL`,
        'USER_DAILY_LIMIT: must be a whole number ≥ 0, got "many"',
      ]),
    );
  });

  it('never shows a secret, malformed or pasted into the wrong variable', () => {
    const botToken = '9876543:AAFakeBotTokenForTestsOnly_1234567890';
    const webhookSecret = 'not a valid secret because of spaces';
    const redisPassword = 'redis-pass-w0rd';
    const providerKeys = Object.fromEntries(
      PROVIDERS.map(({ envPrefix }) => [
        `${envPrefix}_API_KEY`,
        `${envPrefix.toLowerCase()}_malformed key_0123456789abcdef`,
      ]),
    );
    const wellFormedKey = 'gsk_WellFormedKeyPastedElsewhere0123456789';
    const env: Env = {
      ...providerKeys,
      BOT_TOKEN: `${botToken} trailing-garbage`,
      WEBHOOK_URL: `https://bot.example.com/${botToken}`,
      WEBHOOK_SECRET: webhookSecret,
      REDIS_URL: `redis//:${redisPassword}@localhost:6379`,
      [v('API_KEY_2')]: wellFormedKey,
      // Secrets pasted where values are quoted back.
      ADMIN_IDS: `${wellFormedKey},${redisPassword}`,
      PROVIDER_ORDER: `${FIRST.name},${botToken}`,
      TRANSLATE_MAX_TEXTS: wellFormedKey,
      LOG_LEVEL: redisPassword,
    };
    const error = configError(() => createConfig(env));
    expect(error.issues.length).toBeGreaterThanOrEqual(PROVIDERS.length + 6);
    const secrets = [
      botToken,
      botToken.split(':')[1] ?? '',
      webhookSecret,
      redisPassword,
      wellFormedKey,
      ...Object.values(providerKeys).flatMap((key) => [key, ...key.split(' ')]),
    ];
    for (const secret of secrets) expect(error.message).not.toContain(secret);
  });
});

describe('describeConfig', () => {
  it('shows keys, the bot token and the Redis password only masked', () => {
    const keys = ['gsk_FirstKeyForDescribe0000000001', 'gsk_SecondKeyForDescribe000000002'];
    const config = createConfig({
      BOT_TOKEN: TOKEN,
      [v('API_KEYS')]: keys.join(','),
      REDIS_URL: 'redis://:sup3r-secret-pw@localhost:6379/0',
      WEBHOOK_URL: `https://bot.example.com/${TOKEN}`,
      WEBHOOK_SECRET: 'WebhookSecretValue_123',
    });
    const summary = describeConfig(config);
    const text = JSON.stringify(summary);
    for (const secret of [...keys, TOKEN, 'sup3r-secret-pw', 'WebhookSecretValue_123']) {
      expect(text).not.toContain(secret);
    }
    expect(summary.providers.providers).toEqual([
      expect.objectContaining({ name: FIRST.name, keyCount: 2, keys: ['gsk_Fi…0001', 'gsk_Se…0002'] }),
    ]);
    expect(summary.storage).toBe('redis://:****@localhost:6379/0');
    expect(summary.mode).toBe('webhook');
  });
});

describe('.env.example', () => {
  const example = readFileSync(path.join(__dirname, '../../.env.example'), 'utf8');

  it('documents every variable the config reads', () => {
    const documented = new Set([...example.matchAll(/^#?\s*([A-Z][A-Z0-9_]*)=/gm)].map((match) => match[1]));
    const missing = configVariableNames().filter((name) => !documented.has(name));
    expect(missing).toEqual([]);
  });

  it("states each provider's default endpoint, model and limits (0 where there is none)", () => {
    for (const { envPrefix, defaultBaseUrl, defaultModel, defaultLimits } of PROVIDERS) {
      expect(example).toContain(`${envPrefix}_BASE_URL=${defaultBaseUrl}\n`);
      expect(example).toContain(`${envPrefix}_MODEL=${defaultModel}\n`);
      expect(example).toContain(`${envPrefix}_RPM=${defaultLimits.requestsPerMinute ?? 0}\n`);
      expect(example).toContain(`${envPrefix}_RPD=${defaultLimits.requestsPerDay ?? 0}\n`);
      expect(example).toContain(`${envPrefix}_TPM=${defaultLimits.tokensPerMinute ?? 0}\n`);
      expect(example).toContain(`${envPrefix}_TPD=${defaultLimits.tokensPerDay ?? 0}\n`);
    }
  });

  it('is a valid config once BOT_TOKEN is filled in, with every provider off', () => {
    const config = createConfig({ ...parseEnv(example), BOT_TOKEN: TOKEN });
    expect(config.providers.providers).toEqual([]);
  });
});

describe('loadDotEnv', () => {
  const directory = mkdtempSync(path.join(tmpdir(), 'switchboard-env-'));
  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  it('loads a .env file without overriding variables already set', () => {
    const file = path.join(directory, '.env');
    writeFileSync(file, 'FROM_FILE=from-file\nALREADY_SET=from-file\nQUOTED="two\\nlines"\n');
    const env: NodeJS.ProcessEnv = { ALREADY_SET: 'from-environment' };
    expect(loadDotEnv(file, env)).toBe(true);
    expect(env).toEqual({ FROM_FILE: 'from-file', ALREADY_SET: 'from-environment', QUOTED: 'two\nlines' });
  });

  it('does nothing when the file does not exist', () => {
    const env: NodeJS.ProcessEnv = {};
    expect(loadDotEnv(path.join(directory, 'missing.env'), env)).toBe(false);
    expect(env).toEqual({});
  });
});
