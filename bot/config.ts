/**
 * Configuration from environment variables, validated once. `createConfig(env)` returns the typed
 * config or throws a `ConfigError` naming every wrong variable and what is wrong with it, one per
 * line. `createProvidersConfig(env)` is the provider part alone (the router and `check-keys`).
 *
 * Everything here is pure except `loadDotEnv`, which only entry points call. No error message ever
 * contains a secret (API keys, BOT_TOKEN, WEBHOOK_SECRET, the Redis password): problems describe
 * a secret's value instead of quoting it, and every message is redacted once more before it is
 * thrown, in case a secret was pasted into a variable whose value is quoted.
 *
 * Values are trimmed, and an empty value counts as unset, so `.env` lines like `<P>_MODEL=` mean
 * "use the default".
 */
import { existsSync, readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { z } from 'zod';
import {
  DEFAULT_ROUTER_SETTINGS,
  type KeyLimits,
  maskSecret,
  PROVIDERS,
  type ProviderConfig,
  type ProviderDescriptor,
  type RouterSettings,
  redactSecrets,
} from '../providers';
import type { RedisAddress, RedisTopology } from '../storage';

export type Env = Readonly<Record<string, string | undefined>>;

/**
 * The provider pool as configured: the router's settings, and the enabled providers in the core's
 * one provider shape (keys in the order `<P>_API_KEY`, `<P>_API_KEY_2` …, `<P>_API_KEYS`; limits
 * are the descriptor's defaults with `<P>_RPM`/`_RPD`/`_TPM`/`_TPD` applied).
 */
export interface ProvidersConfig extends RouterSettings {
  /** Enabled providers (those with at least one key), in `order`. */
  readonly providers: readonly ProviderConfig[];
  /**
   * Every known provider name, once: those in `PROVIDER_ORDER` first, as listed, then the rest in
   * registry order (so a provider left out of `PROVIDER_ORDER` still serves, last).
   */
  readonly order: readonly string[];
  /** Things that are not errors but probably mistakes (a key variable that is not read …). */
  readonly warnings: readonly string[];
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface WebhookConfig {
  /** Exactly as given: it is what `setWebhook` registers. */
  readonly url: string;
  /** Path of `url`, where updates are accepted. */
  readonly path: string;
  readonly secret: string;
  readonly port: number;
}

export interface Config {
  readonly botToken: string;
  /** Without a trailing slash. */
  readonly telegramApiRoot: string;
  readonly adminIds: readonly number[];
  /** Empty means everyone may use the bot. */
  readonly allowedUserIds: readonly number[];
  /** Unset means in-memory storage. */
  readonly redisUrl: string | undefined;
  /** REDIS_SENTINELS or REDIS_CLUSTER_NODES; `redisUrl` then gives only credentials, database and TLS. */
  readonly redisTopology: RedisTopology | undefined;
  /** 0 means no per-minute limit. */
  readonly rateLimitPerMinute: number;
  /** 0 means unlimited. */
  readonly userDailyLimit: number;
  readonly historyMaxMessages: number;
  readonly historyTtlSeconds: number;
  readonly systemPrompt: string;
  readonly streamReplies: boolean;
  readonly translateDefaultLang: string;
  readonly translateMaxTexts: number;
  /** The longest user message accepted, in characters. */
  readonly maxMessageChars: number;
  /** Set in webhook mode (`WEBHOOK_URL` given); long polling otherwise. */
  readonly webhook: WebhookConfig | undefined;
  readonly metricsPort: number | undefined;
  readonly logLevel: LogLevel;
  readonly providers: ProvidersConfig;
}

export interface ConfigIssue {
  readonly variable: string;
  readonly problem: string;
}

/** Every problem found in the environment at once; the message lists them as `VARIABLE: problem`. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    super(
      [
        'Invalid configuration (see .env.example):',
        ...issues.map((issue) => `${issue.variable}: ${issue.problem}`),
      ].join('\n'),
    );
    this.issues = issues;
  }
}

export function isConfigError(value: unknown): value is ConfigError {
  return value instanceof Error && value.name === 'ConfigError' && Array.isArray((value as ConfigError).issues);
}

export const DEFAULT_SYSTEM_PROMPT =
  'You are a helpful assistant chatting with people on Telegram. Answer in the language the user ' +
  'writes in. Be clear and concise. Use Markdown sparingly: bold, italics, lists and code blocks ' +
  'when they help, no tables and no headings.';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const ROUTING_MODES = ['priority', 'fastest'] as const satisfies readonly RouterSettings['routing'][];
/** setTimeout fires at once for longer delays, so no timeout may exceed it. */
const MAX_TIMER_MS = 2_147_483_647;
const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

// ---------------------------------------------------------------------------------------------
// Schemas for one variable each. Every message is written here: zod's default messages are never
// shown, and only non-secret values are quoted.

/** A non-secret value quoted in a message; a long one is masked in case a secret landed there. */
function quote(value: unknown): string {
  const text = String(value);
  return JSON.stringify(text.length > 32 ? maskSecret(text) : text);
}

function requiredString(problem = 'required') {
  return z.string({ error: problem });
}

/** Non-empty items of a comma-separated list, trimmed. */
function splitList(value: string): string[] {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

function wholeNumber(min: number, max = Number.MAX_SAFE_INTEGER) {
  const problem = (input: unknown) => `must be a whole number ≥ ${min}, got ${quote(input)}`;
  return requiredString()
    .regex(/^\d+$/, { error: (issue) => problem(issue.input) })
    .transform(Number)
    .pipe(
      z
        .number()
        .min(min, { error: (issue) => problem(issue.input) })
        .max(max, { error: (issue) => `must be at most ${max}, got ${quote(issue.input)}` }),
    );
}

/** A share between 0 and 1, written as a decimal (`0.1`) or a percentage (`10%`). */
function share() {
  const problem = (input: unknown) => `must be a share between 0 and 1 (like 0.1 or 10%), got ${quote(input)}`;
  return requiredString()
    .regex(/^(\d+(\.\d+)?%?|\.\d+)$/, { error: (issue) => problem(issue.input) })
    .transform((value) => (value.endsWith('%') ? Number(value.slice(0, -1)) / 100 : Number(value)))
    .pipe(
      z
        .number()
        .min(0)
        .max(1, { error: (issue) => problem(issue.input) }),
    );
}

function milliseconds() {
  return wholeNumber(1, MAX_TIMER_MS);
}

function port() {
  return wholeNumber(1, 65_535);
}

/** A per-key limit; 0 is kept here and means "no limit" (see `mergeLimits`). */
function limit() {
  return wholeNumber(0).optional();
}

/** An http(s) URL, returned without trailing slashes. URLs are never quoted: they may carry tokens. */
function httpUrl() {
  return requiredString()
    .refine((value) => URL.canParse(value), { error: 'not a URL', abort: true })
    .refine((value) => ['http:', 'https:'].includes(new URL(value).protocol), {
      error: 'must be an http:// or https:// URL',
    })
    .transform((value) => value.replace(/\/+$/, ''));
}

function webhookUrl() {
  return requiredString()
    .refine((value) => URL.canParse(value), { error: 'not a URL', abort: true })
    .refine(
      (value) => {
        const url = new URL(value);
        return url.protocol === 'https:' || (url.protocol === 'http:' && LOCAL_HOSTS.has(url.hostname));
      },
      { error: 'must be an https:// URL (http:// is allowed only for localhost)' },
    );
}

function redisUrl() {
  return requiredString()
    .refine((value) => URL.canParse(value), { error: 'not a URL', abort: true })
    .refine((value) => ['redis:', 'rediss:'].includes(new URL(value).protocol), {
      error: 'must be a redis:// or rediss:// URL',
    });
}

/** `host:port, host:port` (IPv6 in brackets: `[::1]:26379`). */
function redisAddresses() {
  return requiredString()
    .transform(splitList)
    .pipe(
      z
        .array(
          z.string().refine((item) => parseAddress(item) !== undefined, {
            error: (issue) => `${quote(issue.input)} is not host:port`,
          }),
        )
        .min(1, { error: 'list at least one host:port' }),
    )
    .transform((items) => items.map((item) => parseAddress(item) as RedisAddress));
}

function parseAddress(item: string): RedisAddress | undefined {
  const match = /^(\[[0-9a-fA-F:.]+\]|[\w.-]+):(\d{1,5})$/.exec(item);
  const port = Number(match?.[2]);
  if (match?.[1] === undefined || !(port >= 1 && port <= 65_535)) return undefined;
  return { host: match[1].replace(/^\[(.*)\]$/, '$1'), port };
}

/**
 * Telegram's token is `<bot id>:<secret>` (35 characters after the colon today). At least 20 of
 * [A-Za-z0-9_-] are asked for: enough to catch a truncated paste, loose enough for test tokens.
 */
function botToken() {
  return requiredString().regex(/^\d+:[\w-]{20,}$/, {
    error: 'not a bot token: expected <digits>:<secret> exactly as @BotFather gives it (no "bot" prefix, no quotes)',
  });
}

function webhookSecret() {
  return requiredString('required in webhook mode (WEBHOOK_URL is set)').regex(/^[\w-]{1,256}$/, {
    error: 'must be 1–256 characters from A-Z, a-z, 0-9, _ and -',
  });
}

function userIds() {
  return requiredString()
    .transform(splitList)
    .pipe(
      z.array(
        z.string().refine((item) => /^\d+$/.test(item) && Number(item) > 0 && Number.isSafeInteger(Number(item)), {
          error: (issue) => `${quote(issue.input)} is not a Telegram user id`,
        }),
      ),
    )
    .transform((items) => [...new Set(items.map(Number))]);
}

function flag() {
  return z.stringbool({
    truthy: ['true', '1', 'yes', 'on'],
    falsy: ['false', '0', 'no', 'off'],
    case: 'insensitive',
    error: (issue) => `must be true or false (or yes/no, 1/0), got ${quote(issue.input)}`,
  });
}

function oneOf<const Values extends readonly [string, ...string[]]>(values: Values) {
  return requiredString()
    .toLowerCase()
    .pipe(z.enum(values, { error: (issue) => `must be one of ${values.join(', ')}, got ${quote(issue.input)}` }));
}

function text(maxLength: number) {
  return requiredString().max(maxLength, { error: `must be at most ${maxLength} characters` });
}

/** One key variable: keys separated by commas (in any key variable, not only `<P>_API_KEYS`). */
const keyList = requiredString()
  .transform(splitList)
  .pipe(
    z.array(
      z.string().regex(/^[\x21-\x7E]+$/, {
        error: 'a key contains a space or a character that is not printable ASCII (separate several keys with commas)',
      }),
    ),
  );

function providerOrder() {
  const known = PROVIDERS.map((provider) => provider.name);
  return requiredString()
    .transform((value) => splitList(value).map((name) => name.toLowerCase()))
    .pipe(
      z
        .array(
          z.string().refine((name) => known.includes(name), {
            error: (issue) => `unknown provider ${quote(issue.input)} (known: ${known.join(', ')})`,
          }),
        )
        .superRefine((names, context) => {
          for (const [index, name] of names.entries()) {
            if (names.indexOf(name) !== index)
              context.addIssue({ code: 'custom', message: `"${name}" is listed twice` });
          }
        }),
    );
}

// ---------------------------------------------------------------------------------------------
// Variables grouped by what they configure: config field → [variable, schema].

type FieldSpecs = Record<string, readonly [variable: string, schema: z.ZodType]>;
type Parsed<Specs extends FieldSpecs> = { -readonly [Field in keyof Specs]: z.output<Specs[Field][1]> };

function botFields() {
  return {
    botToken: ['BOT_TOKEN', botToken()],
    telegramApiRoot: ['TELEGRAM_API_ROOT', httpUrl().default('https://api.telegram.org')],
    adminIds: ['ADMIN_IDS', userIds().default([])],
    allowedUserIds: ['ALLOWED_USER_IDS', userIds().default([])],
    redisUrl: ['REDIS_URL', redisUrl().optional()],
    rateLimitPerMinute: ['RATE_LIMIT_PER_MINUTE', wholeNumber(0).default(10)],
    userDailyLimit: ['USER_DAILY_LIMIT', wholeNumber(0).default(0)],
    historyMaxMessages: ['HISTORY_MAX_MESSAGES', wholeNumber(2, 1_000).default(20)],
    historyTtlSeconds: ['HISTORY_TTL_SECONDS', wholeNumber(1).default(7 * 24 * 60 * 60)],
    systemPrompt: ['SYSTEM_PROMPT', text(20_000).default(DEFAULT_SYSTEM_PROMPT)],
    streamReplies: ['STREAM_REPLIES', flag().default(true)],
    translateDefaultLang: ['TRANSLATE_DEFAULT_LANG', text(64).default('en')],
    translateMaxTexts: ['TRANSLATE_MAX_TEXTS', wholeNumber(1, 10_000).default(200)],
    maxMessageChars: ['MAX_MESSAGE_CHARS', wholeNumber(1, 1_000_000).default(8_000)],
    metricsPort: ['METRICS_PORT', port().optional()],
    logLevel: ['LOG_LEVEL', oneOf(LOG_LEVELS).default('info')],
  } as const satisfies FieldSpecs;
}

/** Where Redis is when REDIS_URL's host cannot say it: Sentinels, or the seed nodes of a Cluster. */
function redisTopologyFields() {
  return {
    sentinels: ['REDIS_SENTINELS', redisAddresses().optional()],
    masterName: ['REDIS_SENTINEL_NAME', text(200).default('mymaster')],
    clusterNodes: ['REDIS_CLUSTER_NODES', redisAddresses().optional()],
  } as const satisfies FieldSpecs;
}

/** Read only in webhook mode, so a platform's stray `PORT` does not matter when polling. */
function webhookFields() {
  return {
    url: ['WEBHOOK_URL', webhookUrl()],
    secret: ['WEBHOOK_SECRET', webhookSecret()],
    port: ['PORT', port().default(8080)],
  } as const satisfies FieldSpecs;
}

function routerFields() {
  const defaults = DEFAULT_ROUTER_SETTINGS;
  return {
    order: ['PROVIDER_ORDER', providerOrder().optional()],
    routing: ['ROUTING', oneOf(ROUTING_MODES).default(defaults.routing)],
    requestDeadlineMs: ['REQUEST_DEADLINE_MS', milliseconds().default(defaults.requestDeadlineMs)],
    attemptTimeoutMs: ['ATTEMPT_TIMEOUT_MS', milliseconds().default(defaults.attemptTimeoutMs)],
    firstTokenTimeoutMs: ['FIRST_TOKEN_TIMEOUT_MS', milliseconds().default(defaults.firstTokenTimeoutMs)],
    streamIdleTimeoutMs: ['STREAM_IDLE_TIMEOUT_MS', milliseconds().default(defaults.streamIdleTimeoutMs)],
    breakerFailureThreshold: [
      'BREAKER_FAILURE_THRESHOLD',
      wholeNumber(1, 1_000).default(defaults.breakerFailureThreshold),
    ],
    breakerOpenMs: ['BREAKER_OPEN_MS', milliseconds().default(defaults.breakerOpenMs)],
    authRecheckMs: ['AUTH_RECHECK_MS', milliseconds().default(defaults.authRecheckMs)],
    hedgeMaxShare: ['HEDGE_MAX_SHARE', share().default(defaults.hedgeMaxShare)],
    hedgeMinDelayMs: ['HEDGE_MIN_DELAY_MS', milliseconds().default(defaults.hedgeMinDelayMs)],
    resetAwareSpending: ['RESET_AWARE_SPENDING', flag().default(defaults.resetAwareSpending)],
  } as const satisfies FieldSpecs;
}

function providerFields(descriptor: ProviderDescriptor) {
  const prefix = descriptor.envPrefix;
  return {
    baseUrl: [`${prefix}_BASE_URL`, httpUrl().default(descriptor.defaultBaseUrl)],
    model: [`${prefix}_MODEL`, text(200).default(descriptor.defaultModel)],
    requestsPerMinute: [`${prefix}_RPM`, limit()],
    requestsPerDay: [`${prefix}_RPD`, limit()],
    tokensPerMinute: [`${prefix}_TPM`, limit()],
    tokensPerDay: [`${prefix}_TPD`, limit()],
  } as const satisfies FieldSpecs;
}

/** Every variable the config reads (key variables as `<P>_API_KEY`, `<P>_API_KEY_2`, `<P>_API_KEYS`). */
export function configVariableNames(): string[] {
  const groups: FieldSpecs[] = [botFields(), redisTopologyFields(), webhookFields(), routerFields()];
  const names = groups.flatMap((fields) => Object.values(fields).map(([variable]) => variable));
  for (const descriptor of PROVIDERS) {
    const prefix = descriptor.envPrefix;
    names.push(`${prefix}_API_KEY`, `${prefix}_API_KEY_2`, `${prefix}_API_KEYS`);
    names.push(...Object.values(providerFields(descriptor)).map(([variable]) => variable));
  }
  return names;
}

function readVariable(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

/** Parses each field's variable on its own, so every problem is reported, not only the first. */
function parseFields<Specs extends FieldSpecs>(
  env: Env,
  fields: Specs,
  issues: ConfigIssue[],
): Parsed<Specs> | undefined {
  const parsed: Record<string, unknown> = {};
  let failed = false;
  for (const [field, [variable, schema]] of Object.entries(fields)) {
    const result = schema.safeParse(readVariable(env, variable));
    if (result.success) {
      parsed[field] = result.data;
    } else {
      failed = true;
      for (const issue of result.error.issues) issues.push({ variable, problem: issue.message });
    }
  }
  return failed ? undefined : (parsed as Parsed<Specs>);
}

// ---------------------------------------------------------------------------------------------
// Providers

/**
 * The key variables of one provider in reading order: `<P>_API_KEY`, `<P>_API_KEY_<n>` by n (gaps
 * allowed), then `<P>_API_KEYS`. Names that look like key variables but are none are returned
 * apart, to warn about.
 */
function keyVariables(env: Env, prefix: string): { names: string[]; ignored: string[] } {
  const base = `${prefix}_API_KEY`;
  const numbered: { name: string; rank: number }[] = [];
  const ignored: string[] = [];
  for (const name of Object.keys(env)) {
    if (!name.startsWith(base) || name === `${base}S`) continue;
    const suffix = name.slice(base.length);
    if (suffix === '') numbered.push({ name, rank: 0 });
    else if (/^_[1-9]\d*$/.test(suffix)) numbered.push({ name, rank: Number(suffix.slice(1)) });
    else ignored.push(name);
  }
  numbered.sort((left, right) => left.rank - right.rank);
  const names = numbered.map(({ name }) => name);
  if (env[`${base}S`] !== undefined) names.push(`${base}S`);
  return { names, ignored: ignored.sort() };
}

function readKeys(env: Env, descriptor: ProviderDescriptor, issues: ConfigIssue[], warnings: string[]): string[] {
  const prefix = descriptor.envPrefix;
  const { names, ignored } = keyVariables(env, prefix);
  for (const name of ignored) {
    warnings.push(
      `${name} is not read: name keys ${prefix}_API_KEY, ${prefix}_API_KEY_2, ${prefix}_API_KEY_3 … or list them in ${prefix}_API_KEYS`,
    );
  }
  const keys: string[] = [];
  for (const variable of names) {
    const value = readVariable(env, variable);
    if (value === undefined) continue;
    const result = keyList.safeParse(value);
    if (!result.success) {
      for (const issue of result.error.issues) issues.push({ variable, problem: issue.message });
      continue;
    }
    for (const key of result.data) if (!keys.includes(key)) keys.push(key);
  }
  return keys;
}

/** 0 in a limit variable means "no limit" (also to lift a descriptor's default); unset keeps the default. */
function mergeLimits(defaults: KeyLimits, overrides: Record<keyof KeyLimits, number | undefined>): KeyLimits {
  const limits: { -readonly [Name in keyof KeyLimits]: number } = {};
  for (const name of ['requestsPerMinute', 'requestsPerDay', 'tokensPerMinute', 'tokensPerDay'] as const) {
    const value = overrides[name] ?? defaults[name];
    if (value !== undefined && value > 0) limits[name] = value;
  }
  return limits;
}

function readProviders(env: Env, issues: ConfigIssue[]): ProvidersConfig | undefined {
  const warnings: string[] = [];
  const router = parseFields(env, routerFields(), issues);
  const settings: ProviderConfig[] = [];
  let failed = router === undefined;
  for (const descriptor of PROVIDERS) {
    const keys = readKeys(env, descriptor, issues, warnings);
    const fields = parseFields(env, providerFields(descriptor), issues);
    if (fields === undefined) failed = true;
    if (fields === undefined || keys.length === 0) continue;
    const { baseUrl, model, ...limits } = fields;
    settings.push({
      descriptor,
      keys,
      baseUrl,
      model,
      limits: mergeLimits(descriptor.defaultLimits, limits),
    });
  }
  if (failed || router === undefined) return undefined;

  const listed = router.order ?? [];
  const order = [...listed, ...PROVIDERS.map(({ name }) => name).filter((name) => !listed.includes(name))];
  const providers = order.flatMap((name) => settings.filter((provider) => provider.descriptor.name === name));
  if (providers.length === 0) {
    const example = PROVIDERS[0]?.envPrefix ?? '<PROVIDER>';
    warnings.push(`no provider has an API key, so nothing can answer: set ${example}_API_KEY (see .env.example)`);
  }
  const { order: _listed, ...rest } = router;
  return { ...rest, maxWaitMs: DEFAULT_ROUTER_SETTINGS.maxWaitMs, providers, order, warnings };
}

// ---------------------------------------------------------------------------------------------
// Secrets in error messages

/** Names whose values are secrets wherever they appear in a message (`<P>_API_KEY_OLD` too). */
function isSecretVariable(name: string): boolean {
  return name.includes('_API_KEY') || /(KEY|KEYS|TOKEN|SECRET|PASSWORD)(_\d+)?$/.test(name);
}

function secretValues(env: Env): string[] {
  const secrets = new Set<string>();
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue;
    if (isSecretVariable(name)) {
      secrets.add(value);
      secrets.add(value.trim());
      for (const item of splitList(value)) secrets.add(item);
    }
  }
  // The Redis password, also from a URL too malformed to parse: the user info before the last `@`.
  const redis = env.REDIS_URL?.trim() ?? '';
  const userInfo = redis.includes('@') ? redis.slice(0, redis.lastIndexOf('@')).replace(/^[a-z]*:?\/*/i, '') : '';
  for (const part of [userInfo, ...userInfo.split(':')]) {
    secrets.add(part);
    secrets.add(safeDecode(part));
  }
  // Longest first, so a list of keys is replaced whole before its parts.
  return [...secrets].filter((secret) => secret.length > 0).sort((left, right) => right.length - left.length);
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function failWith(env: Env, issues: readonly ConfigIssue[]): never {
  const secrets = secretValues(env);
  throw new ConfigError(issues.map((issue) => ({ ...issue, problem: redactSecrets(issue.problem, secrets) })));
}

// ---------------------------------------------------------------------------------------------

/** The provider part of the config: keys, endpoints, limits, order and the router's timings. */
export function createProvidersConfig(env: Env): ProvidersConfig {
  const issues: ConfigIssue[] = [];
  const providers = readProviders(env, issues);
  if (issues.length > 0 || providers === undefined) failWith(env, issues);
  return providers;
}

/** The whole config, or a `ConfigError` listing every problem (bot and providers together). */
export function createConfig(env: Env): Config {
  const issues: ConfigIssue[] = [];
  const bot = parseFields(env, botFields(), issues);
  const redisTopology = readRedisTopology(env, issues);
  const webhookMode = readVariable(env, 'WEBHOOK_URL') !== undefined;
  const webhook = webhookMode ? parseFields(env, webhookFields(), issues) : undefined;
  const providers = readProviders(env, issues);
  if (bot?.metricsPort !== undefined && webhook !== undefined && bot.metricsPort === webhook.port) {
    issues.push({ variable: 'METRICS_PORT', problem: `must differ from PORT (both are ${webhook.port})` });
  }
  if (issues.length > 0 || bot === undefined || providers === undefined || (webhookMode && webhook === undefined)) {
    failWith(env, issues);
  }
  return {
    ...bot,
    redisTopology,
    webhook: webhook === undefined ? undefined : { ...webhook, path: new URL(webhook.url).pathname },
    providers,
  };
}

/**
 * REDIS_SENTINELS or REDIS_CLUSTER_NODES, which need REDIS_URL: it turns Redis on and gives the
 * user, password, database and TLS (`rediss://`), while its host is not used.
 */
function readRedisTopology(env: Env, issues: ConfigIssue[]): RedisTopology | undefined {
  const fields = parseFields(env, redisTopologyFields(), issues);
  if (fields === undefined) return undefined;
  const { sentinels, masterName, clusterNodes } = fields;
  if (sentinels !== undefined && clusterNodes !== undefined) {
    issues.push({
      variable: 'REDIS_CLUSTER_NODES',
      problem: 'set either REDIS_SENTINELS or REDIS_CLUSTER_NODES, not both',
    });
    return undefined;
  }
  const variable =
    sentinels !== undefined ? 'REDIS_SENTINELS' : clusterNodes !== undefined ? 'REDIS_CLUSTER_NODES' : undefined;
  if (variable === undefined) return undefined;
  const url = readVariable(env, 'REDIS_URL');
  if (url === undefined) {
    issues.push({
      variable: 'REDIS_URL',
      problem: `required with ${variable} (it gives the password, database and TLS; its host is not used), e.g. redis://:password@redis/0`,
    });
    return undefined;
  }
  if (clusterNodes !== undefined) {
    const database = URL.canParse(url) ? new URL(url).pathname.replace(/^\//, '') : '';
    if (database !== '' && database !== '0') {
      issues.push({
        variable: 'REDIS_URL',
        problem: 'a Redis Cluster has only database 0: leave the database out of the URL',
      });
    }
    return { kind: 'cluster', nodes: clusterNodes };
  }
  return sentinels === undefined ? undefined : { kind: 'sentinel', sentinels, masterName };
}

/** What the command-line tools (`npm run chat`) need: everything but Telegram's settings. */
export type ToolsConfig = Omit<Config, 'botToken' | 'webhook'>;

/**
 * The config without BOT_TOKEN and webhook settings, which the tools do not use (a missing or
 * malformed token must not stop someone from checking their provider keys).
 */
export function createConfigForTools(env: Env): ToolsConfig {
  const { botToken: _token, webhook: _webhook, ...rest } = createConfig({
    ...env,
    BOT_TOKEN: '1:not-used-by-the-command-line-tools',
    WEBHOOK_URL: undefined,
  });
  return rest;
}

/**
 * Loads `.env` into `env` (`process.env` by default) when the file exists; variables already set
 * win, as with `process.loadEnvFile`, whose parser (`util.parseEnv`) this uses. Returns whether a
 * file was read. Only entry points call this: everything else takes an `env` argument.
 */
export function loadDotEnv(path = '.env', env: NodeJS.ProcessEnv = process.env): boolean {
  if (!existsSync(path)) return false;
  for (const [name, value] of Object.entries(parseEnv(readFileSync(path, 'utf8')))) {
    if (env[name] === undefined && value !== undefined) env[name] = value;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Log-safe summaries

function maskUrlPassword(value: string): string {
  const url = new URL(value);
  if (url.password !== '') url.password = '****';
  return url.toString();
}

/** The provider config without secrets: keys masked, for start-up logs and `check-keys`. */
export function describeProvidersConfig(config: ProvidersConfig) {
  const enabled = new Set(config.providers.map(({ descriptor }) => descriptor.name));
  return {
    routing: config.routing,
    order: config.order,
    providers: config.providers.map((provider) => ({
      name: provider.descriptor.name,
      model: provider.model,
      baseUrl: provider.baseUrl,
      keyCount: provider.keys.length,
      keys: provider.keys.map(maskSecret),
      limits: provider.limits,
    })),
    disabled: config.order.filter((name) => !enabled.has(name)),
    timeoutsMs: {
      requestDeadline: config.requestDeadlineMs,
      attempt: config.attemptTimeoutMs,
      firstToken: config.firstTokenTimeoutMs,
      streamIdle: config.streamIdleTimeoutMs,
    },
    breaker: { failureThreshold: config.breakerFailureThreshold, openMs: config.breakerOpenMs },
    authRecheckMs: config.authRecheckMs,
    warnings: config.warnings,
  };
}

/** The whole config without secrets, for the start-up log line. */
export function describeConfig(config: Config) {
  const secrets = [config.botToken, ...(config.webhook === undefined ? [] : [config.webhook.secret])];
  return {
    mode: config.webhook === undefined ? 'polling' : 'webhook',
    botToken: maskSecret(config.botToken),
    telegramApiRoot: config.telegramApiRoot,
    webhook:
      config.webhook === undefined
        ? undefined
        : { url: redactSecrets(config.webhook.url, secrets), port: config.webhook.port },
    storage: config.redisUrl === undefined ? 'memory' : maskUrlPassword(config.redisUrl),
    redisTopology: config.redisTopology,
    admins: config.adminIds.length,
    allowedUsers: config.allowedUserIds.length === 0 ? 'everyone' : config.allowedUserIds.length,
    rateLimitPerMinute: config.rateLimitPerMinute,
    userDailyLimit: config.userDailyLimit,
    historyMaxMessages: config.historyMaxMessages,
    historyTtlSeconds: config.historyTtlSeconds,
    systemPromptChars: config.systemPrompt.length,
    streamReplies: config.streamReplies,
    translateDefaultLang: config.translateDefaultLang,
    translateMaxTexts: config.translateMaxTexts,
    maxMessageChars: config.maxMessageChars,
    metricsPort: config.metricsPort,
    logLevel: config.logLevel,
    providers: describeProvidersConfig(config.providers),
  };
}
