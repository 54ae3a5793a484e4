import { ChatService } from './chat';
import { Translator } from './translate';
import { Router, type AttemptRecord } from '../../providers';
import { createStores, type StorageEvent, type Stores, type RedisTopology, type HistoryLimits } from '../../storage';
import type { Config, ProvidersConfig } from '../config';
import type { Logger } from '../logger';

/** The provider pool and storage, wired once: used by the bot and by the command-line tools. */
export interface Services {
  readonly stores: Stores;
  readonly router: Router;
  readonly chat: ChatService;
  readonly translator: Translator;
  close(): Promise<void>;
}

export interface ServiceOptions {
  readonly providers: ProvidersConfig;
  readonly redisUrl: string | undefined;
  /** Sentinels or Cluster nodes (REDIS_SENTINELS, REDIS_CLUSTER_NODES). */
  readonly redisTopology?: RedisTopology;
  readonly logger: Logger;
  readonly systemPrompt: string;
  readonly historyLimits: HistoryLimits;
  /** Output allowance per chat answer. */
  readonly maxOutputTokens?: number;
  readonly onHistoryUnavailable?: (error: unknown) => void;
  /** Sees every provider attempt (metrics). */
  readonly onAttempt?: (record: AttemptRecord) => void;
}

export async function createServices(options: ServiceOptions): Promise<Services> {
  const { logger } = options;
  const stores = await createStores({
    redisUrl: options.redisUrl,
    ...(options.redisTopology === undefined ? {} : { redisTopology: options.redisTopology }),
    onEvent: logStorageEvent(logger),
  });
  if (stores.mode === 'memory') {
    logger.warn('REDIS_URL is not set: history, limits and stats live in this process and are lost on restart');
  }
  const router = new Router({
    providers: options.providers.providers.map((provider) => ({
      name: provider.name,
      adapter: provider.descriptor.create({
        baseUrl: provider.baseUrl,
        model: provider.model,
        timeoutMs: options.providers.attemptTimeoutMs,
        idleTimeoutMs: options.providers.streamIdleTimeoutMs,
      }),
      keys: provider.keys,
      limits: provider.limits,
      contextWindowTokens: provider.descriptor.contextWindowTokens,
      dailyResetZone: provider.descriptor.dailyResetZone,
    })),
    routing: options.providers.routing,
    requestDeadlineMs: options.providers.requestDeadlineMs,
    attemptTimeoutMs: options.providers.attemptTimeoutMs,
    firstTokenTimeoutMs: options.providers.firstTokenTimeoutMs,
    streamIdleTimeoutMs: options.providers.streamIdleTimeoutMs,
    breakerFailureThreshold: options.providers.breakerFailureThreshold,
    breakerOpenMs: options.providers.breakerOpenMs,
    authRecheckMs: options.providers.authRecheckMs,
    quotaStore: stores.quota,
    statsStore: stores.stats,
    logger: logger.child({ component: 'router' }),
    ...(options.onAttempt === undefined ? {} : { onAttempt: options.onAttempt }),
  });
  const chat = new ChatService({
    router,
    history: stores.history,
    historyLimits: options.historyLimits,
    systemPrompt: options.systemPrompt,
    maxOutputTokens: options.maxOutputTokens ?? 2048,
    ...(options.onHistoryUnavailable === undefined ? {} : { onHistoryUnavailable: options.onHistoryUnavailable }),
  });
  return { stores, router, chat, translator: new Translator(router), close: () => stores.close() };
}

/** Every secret of a config, for the logger's redaction. */
export function configSecrets(config: Pick<Config, 'providers' | 'redisUrl'> & Partial<Pick<Config, 'botToken' | 'webhook'>>): string[] {
  const secrets: string[] = config.providers.providers.flatMap((provider) => [...provider.keys]);
  if (config.botToken !== undefined) secrets.push(config.botToken);
  if (config.webhook !== undefined) secrets.push(config.webhook.secret);
  if (config.redisUrl !== undefined) {
    const password = new URL(config.redisUrl).password;
    if (password !== '') secrets.push(password, decodeURIComponent(password));
  }
  return secrets;
}

function logStorageEvent(logger: Logger): (event: StorageEvent) => void {
  let lastConnectionError = 0;
  return (event) => {
    switch (event.type) {
      case 'degraded':
        logger.warn(
          { err: event.error, what: event.what },
          event.what === 'history'
            ? 'Redis is unavailable: answering without history until it is back'
            : "Redis is unavailable: using this process's local state",
        );
        return;
      case 'recovered':
        logger.info({ what: event.what }, 'Redis is back: shared state resumed');
        return;
      case 'unreachable-at-start':
        logger.error({ err: event.error }, 'Redis is not reachable at start-up: running on local state, reconnecting');
        return;
      case 'connection-error': {
        // ioredis reports every failed reconnect; one line a minute is enough.
        const now = Date.now();
        if (now - lastConnectionError < 60_000) return;
        lastConnectionError = now;
        logger.warn({ err: event.error }, 'Redis connection error');
        return;
      }
    }
  };
}
