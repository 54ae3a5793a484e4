import { Redis } from 'ioredis';
import { StorageUnavailableError } from '../types';

export interface RedisClientOptions {
  /** Called with connection errors (rate-limited by the caller); ioredis requires a listener. */
  readonly onError?: (error: Error) => void;
  /** Longest a single command may take before it fails (a hung Redis must not hang the bot). */
  readonly commandTimeoutMs?: number;
}

/**
 * An ioredis client tuned to fail fast: with the defaults, a command issued while Redis is down
 * waits about 73 s. Here it fails at once while disconnected (no offline queue), a hung command
 * fails after `commandTimeoutMs`, and the client keeps reconnecting in the background so that
 * everything resumes when Redis returns, without a restart.
 */
export function createRedisClient(url: string, options: RedisClientOptions = {}): Redis {
  const client = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: options.commandTimeoutMs ?? 2000,
    connectTimeout: 2000,
    // Reconnect forever, backing off to one attempt every 2 s.
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
    // A failed connection must not keep the process from exiting on shutdown.
    enableAutoPipelining: false,
  });
  client.on('error', (error: Error) => options.onError?.(error));
  return client;
}

/** Waits for the first connection, failing fast (and leaving the client reconnecting) when Redis is down. */
export async function connectRedis(client: Redis): Promise<void> {
  if (client.status === 'ready') return;
  try {
    await client.connect();
  } catch (error) {
    throw new StorageUnavailableError(`Redis is not reachable: ${describe(error)}`, { cause: error });
  }
}

/**
 * Runs a Redis call and turns connection trouble (refused, closed, timed out, no offline queue)
 * into `StorageUnavailableError`. Errors Redis itself replies with (a bug in a script) pass through.
 */
export async function callRedis<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof Error && error.name === 'ReplyError') throw error;
    throw new StorageUnavailableError(`Redis is unavailable: ${describe(error)}`, { cause: error });
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
