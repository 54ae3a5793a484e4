/**
 * Log-safe summaries of the config: keys and passwords masked, for start-up logs and `check-keys`.
 */
import { maskSecret, redactSecrets } from '../../providers';
import type { Config, ProvidersConfig } from './types';

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
    redisTopology:
      config.redisTopology?.kind === 'sentinel' && config.redisTopology.sentinelPassword !== undefined
        ? { ...config.redisTopology, sentinelPassword: '****' }
        : config.redisTopology,
    admins: config.adminIds.length,
    allowedUsers: config.allowedUserIds.length === 0 ? 'everyone' : config.allowedUserIds.length,
    rateLimitPerMinute: config.rateLimitPerMinute,
    userDailyLimit: config.userDailyLimit,
    userDailyMediaLimit: config.userDailyMediaLimit,
    userDailyAudioSeconds: config.userDailyAudioSeconds,
    historyMaxMessages: config.historyMaxMessages,
    historyTtlSeconds: config.historyTtlSeconds,
    systemPromptChars: config.systemPrompt.length,
    streamReplies: config.streamReplies,
    translateDefaultLang: config.translateDefaultLang,
    translateMaxTexts: config.translateMaxTexts,
    maxMessageChars: config.maxMessageChars,
    metricsPort: config.metricsPort,
    dashboard: config.dashboardToken === undefined ? 'off' : 'on',
    logLevel: config.logLevel,
    providers: describeProvidersConfig(config.providers),
  };
}
