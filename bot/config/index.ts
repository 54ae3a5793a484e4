/**
 * Configuration from environment variables, validated once. `createConfig(env)` returns the typed
 * config or throws a `ConfigError` naming every wrong variable and what is wrong with it, one per
 * line. `createProvidersConfig(env)` is the provider part alone (the router and `check-keys`).
 *
 * Everything here is pure except `loadDotEnv`, which only entry points call. No error message ever
 * contains a secret (see `./secrets`).
 *
 * The parts: `types` (the config's shape, `ConfigError`), `fields` (one schema per variable,
 * `parseFields`), `bot-fields` (the bot's and the webhook's variables), `redis` (REDIS_URL and its
 * topology), `providers` (keys, limits, order, router timings), `secrets` (redaction),
 * `dotenv` (`.env`), `describe` (log-safe summaries). They never import this file.
 */
import { PROVIDERS } from '../../providers';
import { botFields, webhookFields } from './bot-fields';
import { type FieldSpecs, parseFields, readVariable } from './fields';
import { providerFields, readProviders, routerFields } from './providers';
import { readRedisTopology, redisTopologyFields } from './redis';
import { failWith } from './secrets';
import type { Config, ConfigIssue, Env, ProvidersConfig, ToolsConfig } from './types';

export { DEFAULT_SYSTEM_PROMPT } from './bot-fields';
export { describeConfig, describeProvidersConfig } from './describe';
export { loadDotEnv } from './dotenv';
export { configSecrets } from './secrets';
export {
  type Config,
  ConfigError,
  type ConfigIssue,
  type Env,
  isConfigError,
  type LogLevel,
  type ProvidersConfig,
  type ToolsConfig,
  type WebhookConfig,
} from './types';

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
 * The config without BOT_TOKEN and webhook settings, which the tools do not use (a missing or
 * malformed token must not stop someone from checking their provider keys).
 */
export function createConfigForTools(env: Env): ToolsConfig {
  const {
    botToken: _token,
    webhook: _webhook,
    ...rest
  } = createConfig({
    ...env,
    BOT_TOKEN: '1:not-used-by-the-command-line-tools',
    WEBHOOK_URL: undefined,
  });
  return rest;
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
