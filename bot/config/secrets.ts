/**
 * Secrets: API keys, BOT_TOKEN, WEBHOOK_SECRET, DASHBOARD_TOKEN, the Redis password, the sentinels' password.
 *
 * No error message ever contains a secret: problems describe a secret's value instead of quoting
 * it, and every message is redacted once more before it is thrown (`failWith`), in case a secret
 * was pasted into a variable whose value is quoted. `configSecrets` lists a parsed config's
 * secrets for the logger's redaction.
 */
import { redactSecrets } from '../../providers';
import { splitList } from './fields';
import { type Config, ConfigError, type ConfigIssue, type Env } from './types';

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

/** Throws a `ConfigError` with `issues`, every secret of `env` redacted from the messages. */
export function failWith(env: Env, issues: readonly ConfigIssue[]): never {
  const secrets = secretValues(env);
  throw new ConfigError(issues.map((issue) => ({ ...issue, problem: redactSecrets(issue.problem, secrets) })));
}

/** Every secret of a config, for the logger's redaction. */
export function configSecrets(
  config: Pick<Config, 'providers' | 'redisUrl'> &
    Partial<Pick<Config, 'botToken' | 'webhook' | 'redisTopology' | 'dashboardToken'>>,
): string[] {
  const secrets: string[] = config.providers.providers.flatMap((provider) => [...provider.keys]);
  if (config.botToken !== undefined) secrets.push(config.botToken);
  if (config.webhook !== undefined) secrets.push(config.webhook.secret);
  if (config.dashboardToken !== undefined) secrets.push(config.dashboardToken);
  if (config.redisUrl !== undefined) {
    const password = new URL(config.redisUrl).password;
    if (password !== '') secrets.push(password, decodeURIComponent(password));
  }
  if (config.redisTopology?.kind === 'sentinel' && config.redisTopology.sentinelPassword !== undefined) {
    secrets.push(config.redisTopology.sentinelPassword);
  }
  return secrets;
}
