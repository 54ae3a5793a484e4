import { Router } from '../../providers';
import { createStores, type StorageEvent, type Stores } from '../../storage';
import type { Config } from '../config';
import type { Logger } from '../logger';
import { ChatService } from './chat';
import { SettingsService } from './settings';
import { MediaService } from './media';
import { StopRelay } from './stop-relay';
import { collectPoolStats, type PoolStats } from './pool-stats';
import { Translator } from './translate';

/** What the services need of the configuration (the bot's whole config, or the tools' part of it). */
export type ServicesConfig = Pick<
  Config,
  | 'providers'
  | 'redisUrl'
  | 'redisTopology'
  | 'systemPrompt'
  | 'historyMaxMessages'
  | 'historyTtlSeconds'
  | 'modelPreferenceFast'
  | 'modelPreferenceSmart'
>;

/** The provider pool, storage and the use cases, wired once: for the bot, `npm run chat` and the benches. */
export interface Services {
  readonly stores: Stores;
  readonly router: Router;
  readonly chat: ChatService;
  /** Each user's /settings. */
  readonly settings: SettingsService;
  readonly translator: Translator;
  /** Photos and voice notes: capability checks and transcription through the pool. */
  readonly media: MediaService;
  /** Stop presses for answers streaming here or in another process. */
  readonly stops: StopRelay;
  /** The /stats figures (also behind /readyz and /metrics), with the `topUsers` most active users. */
  poolStats(topUsers?: number): Promise<PoolStats>;
  close(): Promise<void>;
}

/** Output allowance of one chat answer, in tokens. */
const CHAT_MAX_OUTPUT_TOKENS = 2048;

export async function createServices(config: ServicesConfig, logger: Logger): Promise<Services> {
  const stores = await createStores({
    redisUrl: config.redisUrl,
    ...(config.redisTopology === undefined ? {} : { redisTopology: config.redisTopology }),
    onEvent: logStorageEvent(logger),
  });
  if (stores.mode === 'memory') {
    logger.warn('REDIS_URL is not set: history, limits and stats live in this process and are lost on restart');
  }
  const router = new Router({
    ...config.providers,
    quotaStore: stores.quota,
    statsStore: stores.stats,
    logger: logger.child({ component: 'router' }),
  });
  const chat = new ChatService({
    router,
    history: stores.history,
    historyLimits: { maxMessages: config.historyMaxMessages, ttlSeconds: config.historyTtlSeconds },
    systemPrompt: config.systemPrompt,
    maxOutputTokens: CHAT_MAX_OUTPUT_TOKENS,
  });
  return {
    stores,
    router,
    chat,
    settings: new SettingsService({
      store: stores.settings,
      systemPrompt: config.systemPrompt,
      preferences: { fast: config.modelPreferenceFast, smart: config.modelPreferenceSmart },
    }),
    translator: new Translator(router),
    media: new MediaService(router),
    stops: new StopRelay(stores.broadcast, stores.mode === 'redis'),
    poolStats: (topUsers = 5) => collectPoolStats(router.snapshot(), stores.quota, stores.stats, topUsers),
    close: () => stores.close(),
  };
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
