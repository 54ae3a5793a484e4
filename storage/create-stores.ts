import {
  Failover,
  FallbackCounterStore,
  FallbackQuotaStore,
  FallbackStatsStore,
  GuardedHistoryStore,
  GuardedSettingsStore,
} from './fallback';
import { CachedSettingsStore } from './cached-settings-store';
import { MemoryBroadcast } from './memory/broadcast';
import { MemoryCounterStore } from './memory/counter-store';
import { MemoryHistoryStore } from './memory/history-store';
import { MemoryProcessRegistry } from './memory/process-registry';
import { MemoryQuotaStore } from './memory/quota-store';
import { MemorySettingsStore } from './memory/settings-store';
import { MemoryStatsStore } from './memory/stats-store';
import { RedisBroadcast } from './redis/broadcast';
import { connectRedis, createRedisClientFor, duplicateClient, type RedisTopology } from './redis/client';
import { RedisCounterStore } from './redis/counter-store';
import { RedisHistoryStore } from './redis/history-store';
import { RedisLease } from './redis/lease';
import { RedisProcessRegistry } from './redis/process-registry';
import { RedisQuotaStore } from './redis/quota-store';
import { RedisSettingsStore } from './redis/settings-store';
import { RedisStatsStore } from './redis/stats-store';
import { RedisUpdateQueue } from './redis/update-queue';
import type { Broadcast, CounterStore, HistoryStore, IntakeStores, ProcessRegistry, SettingsStore } from './types';
import type { QuotaStore, StatsStore } from '../providers/ports';

export interface Stores {
  readonly mode: 'memory' | 'redis';
  readonly quota: QuotaStore;
  readonly stats: StatsStore;
  /** Throws `StorageUnavailableError` during a Redis outage: the caller decides how to go on without history. */
  readonly history: HistoryStore;
  readonly counters: CounterStore;
  /**
   * The durable intake shared by the processes on one Redis: the update queue (with each chat's
   * line) and the poller's lease. None in memory mode, where updates go straight to the handlers.
   */
  readonly intake: IntakeStores | undefined;
  /** Per-user settings (/settings); throws `StorageUnavailableError` during a Redis outage. */
  readonly settings: SettingsStore;
  /** Messages to every process sharing the store (this one only, in memory mode). */
  readonly broadcast: Broadcast;
  /** The processes sharing the storage (heartbeats, for the dashboard); only this one in memory mode. */
  readonly processes: ProcessRegistry;
  /** Whether Redis answered the last call (always true in memory mode). */
  isHealthy(): boolean;
  close(): Promise<void>;
}

export type StorageEvent =
  | { readonly type: 'degraded'; readonly what: string; readonly error: unknown }
  | { readonly type: 'recovered'; readonly what: string }
  | { readonly type: 'connection-error'; readonly error: Error }
  | { readonly type: 'unreachable-at-start'; readonly error: unknown };

export interface StoreOptions {
  readonly redisUrl: string | undefined;
  /** Sentinels or Cluster nodes; REDIS_URL then gives only credentials, database and TLS. */
  readonly redisTopology?: RedisTopology;
  readonly prefix?: string;
  readonly onEvent?: (event: StorageEvent) => void;
}

/**
 * Each process keeps the settings of users it saw in the last minute (changes reach every process
 * at once through the broadcast; the minute bounds a missed one), 10,000 users at most.
 */
const SETTINGS_CACHE = { ttlMs: 60_000, maxEntries: 10_000 };

/**
 * Builds the stores: in memory without `REDIS_URL`; with it, Redis stores that several processes
 * share, each wrapped so that quotas, stats and per-user limits fall back to local state while
 * Redis is away. An unreachable Redis at start-up is not fatal: the client keeps reconnecting.
 */
export async function createStores(options: StoreOptions): Promise<Stores> {
  if (options.redisUrl === undefined) {
    return {
      mode: 'memory',
      quota: new MemoryQuotaStore(),
      stats: new MemoryStatsStore(),
      history: new MemoryHistoryStore(),
      counters: new MemoryCounterStore(),
      intake: undefined,
      broadcast: new MemoryBroadcast(),
      settings: new MemorySettingsStore(),
      processes: new MemoryProcessRegistry(),
      isHealthy: () => true,
      close: async () => undefined,
    };
  }
  const onEvent = options.onEvent;
  const redis = createRedisClientFor(options.redisUrl, options.redisTopology, {
    onError: (error) => onEvent?.({ type: 'connection-error', error }),
  });
  try {
    await connectRedis(redis);
  } catch (error) {
    onEvent?.({ type: 'unreachable-at-start', error });
  }
  // Pub/sub takes a connection of its own (a subscribed connection can run nothing else).
  const subscriber = duplicateClient(redis);
  subscriber.on('error', (error: Error) => onEvent?.({ type: 'connection-error', error }));
  await connectRedis(subscriber).catch(() => undefined); // reported above; it keeps reconnecting
  // Blocking reads of the intake queue take a connection of their own as well.
  const blocking = duplicateClient(redis);
  blocking.on('error', (error: Error) => onEvent?.({ type: 'connection-error', error }));
  await connectRedis(blocking).catch(() => undefined);
  const prefix = options.prefix ?? 'sb:';
  const broadcast = new RedisBroadcast(redis, subscriber, `${prefix}broadcast`);
  const redisStats = new RedisStatsStore(redis, prefix);
  const redisQuota = new RedisQuotaStore(redis, prefix);
  const failover = (what: string): Failover =>
    new Failover(what, ({ degraded, error }) =>
      onEvent?.(degraded ? { type: 'degraded', what, error } : { type: 'recovered', what }),
    );
  return {
    mode: 'redis',
    quota: new FallbackQuotaStore(redisQuota, new MemoryQuotaStore(), failover('key quotas')),
    stats: new FallbackStatsStore(redisStats, new MemoryStatsStore(), failover('stats')),
    counters: new FallbackCounterStore(
      new RedisCounterStore(redis, prefix),
      new MemoryCounterStore(),
      failover('user limits'),
    ),
    history: new GuardedHistoryStore(new RedisHistoryStore(redis, prefix), failover('history')),
    settings: new CachedSettingsStore(
      new GuardedSettingsStore(new RedisSettingsStore(redis, prefix), failover('settings')),
      broadcast,
      SETTINGS_CACHE,
    ),
    broadcast,
    processes: new RedisProcessRegistry(redis, prefix),
    intake: {
      queue: new RedisUpdateQueue({ redis, blocking, subscriber, prefix }),
      pollerLease: new RedisLease(redis, `${prefix}{intake}:poller`),
    },
    isHealthy: () => redis.status === 'ready',
    close: async () => {
      // The stats and settlements of the last few milliseconds are still in this process (WriteBatcher).
      await Promise.all([redisStats.flush(), redisQuota.flush()]);
      await Promise.all(
        [redis, subscriber, blocking].map(async (client) => {
          try {
            await client.quit();
          } catch {
            // disconnected below
          }
          // Also closes what QUIT leaves open: the Sentinel failover detector's connections.
          client.disconnect();
        }),
      );
    },
  };
}
