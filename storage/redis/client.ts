import { type ChainableCommander, Cluster, Redis, type RedisOptions } from 'ioredis';
import { StorageUnavailableError } from '../types';

/** What the stores run on: one server (or a Sentinel-managed master), or a Redis Cluster. */
export type RedisClient = Redis | Cluster;

export interface RedisAddress {
  readonly host: string;
  readonly port: number;
}

/**
 * Where the servers are when REDIS_URL's host alone cannot say it. REDIS_URL still gives the user,
 * password, database (not on a Cluster) and TLS (`rediss://`); its host and port are then unused.
 */
export type RedisTopology =
  | {
      readonly kind: 'sentinel';
      readonly sentinels: readonly RedisAddress[];
      readonly masterName: string;
      /** The sentinels' own password (their `requirepass`), apart from the data nodes' one in the URL. */
      readonly sentinelPassword?: string;
    }
  | { readonly kind: 'cluster'; readonly nodes: readonly RedisAddress[] };

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
    // Commands issued in the same tick (an answer settles quota, stats and history at once, and
    // many chats are answered at once) go out in one write and come back in one read.
    enableAutoPipelining: true,
    // A subscriber is subscribed again by its owner on 'ready', which handles a failure; ioredis's
    // own re-subscription rejected unhandled when the connection dropped again before it was sent.
    autoResubscribe: false,
    reconnectOnError: reconnectOnDemotion,
  });
  client.on('error', (error: Error) => options.onError?.(error));
  return client;
}

/**
 * A connection to a master that became a replica (a failover) refuses writes (READONLY) or has
 * its blocked read ended (UNBLOCKED) while it stays open: connect again, which, with Sentinel,
 * asks the sentinels for the new master. The command itself fails (the caller falls back or
 * tries again), it is not sent again.
 */
function reconnectOnDemotion(error: Error): boolean {
  return /^(READONLY|UNBLOCKED)\b/.test(error.message);
}

/**
 * A client for REDIS_URL alone (`createRedisClient`), for the master a set of Sentinels names, or
 * for a Redis Cluster: all with the same fail-fast settings. ioredis follows a Sentinel failover,
 * and a Cluster's moved slots, by itself.
 */
export function createRedisClientFor(
  url: string,
  topology: RedisTopology | undefined,
  options: RedisClientOptions = {},
): RedisClient {
  if (topology === undefined) return createRedisClient(url, options);
  const parsed = new URL(url);
  const connection: RedisOptions = {
    ...(parsed.username === '' ? {} : { username: decodeURIComponent(parsed.username) }),
    ...(parsed.password === '' ? {} : { password: decodeURIComponent(parsed.password) }),
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
    maxRetriesPerRequest: 1,
    commandTimeout: options.commandTimeoutMs ?? 2000,
    connectTimeout: 2000,
    autoResubscribe: false,
    reconnectOnError: reconnectOnDemotion,
  };
  const retry = (times: number): number => Math.min(50 * 2 ** Math.min(times, 6), 2000);
  const client: RedisClient =
    topology.kind === 'sentinel'
      ? new Redis({
          ...connection,
          db: Number(parsed.pathname.slice(1) || 0),
          sentinels: topology.sentinels.map(({ host, port }) => ({ host, port })),
          name: topology.masterName,
          ...(topology.sentinelPassword === undefined ? {} : { sentinelPassword: topology.sentinelPassword }),
          enableTLSForSentinelMode: parsed.protocol === 'rediss:',
          // Listens to the sentinels for a new master and moves to it at once, rather than at the
          // next broken command (a demoted master still answers reads, and refuses writes).
          failoverDetector: true,
          lazyConnect: true,
          enableOfflineQueue: false,
          enableAutoPipelining: true,
          retryStrategy: retry,
          sentinelRetryStrategy: retry,
        })
      : new Cluster(
          topology.nodes.map(({ host, port }) => ({ host, port })),
          {
            lazyConnect: true,
            enableOfflineQueue: false,
            // Not on a Cluster: ioredis groups auto-pipelined commands by the slot of their first
            // argument, which for a script is its number of keys, so scripts on keys of different
            // slots would share one pipeline, and the Cluster refuses it. Each command still goes
            // straight to the node of its slot, without waiting for the replies before it.
            enableAutoPipelining: false,
            clusterRetryStrategy: retry,
            redisOptions: connection,
          },
        );
  client.on('error', (error: Error) => options.onError?.(error));
  return client;
}

/**
 * A second connection like `client` (pub/sub needs one of its own), not yet connected. It sends
 * each command as it is issued: a subscriber's few commands gain nothing from pipelining.
 */
export function duplicateClient(client: RedisClient): RedisClient {
  const overrides = { enableAutoPipelining: false };
  return client instanceof Cluster ? client.duplicate(undefined, overrides) : client.duplicate(overrides);
}

/** Waits for the first connection, failing fast (and leaving the client reconnecting) when Redis is down. */
export async function connectRedis(client: RedisClient): Promise<void> {
  if (client.status === 'ready') return;
  try {
    await client.connect();
  } catch (error) {
    throw new StorageUnavailableError(`Redis is not reachable: ${describe(error)}`, { cause: error });
  }
}

/**
 * Replies a server gives while a Sentinel or Cluster failover is under way (a demoted master
 * refusing writes, a replica still loading its copy, a Cluster without a master for a slot): the
 * data is not reachable for now, as when Redis is down.
 */
const IN_TRANSITION = /^(READONLY|LOADING|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|MOVED|ASK)\b/;

/** How ioredis (without an offline queue) rejects a command it could not write: it never left. */
const NOT_WRITTEN = "Stream isn't writeable";

/**
 * Runs a Redis call and turns connection trouble (refused, closed, timed out, no offline queue)
 * and the replies of a failover under way into `StorageUnavailableError`. Other errors Redis
 * itself replies with (a bug in a script) pass through.
 */
export async function callRedis<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof Error && error.name === 'ReplyError' && !IN_TRANSITION.test(error.message)) throw error;
    // A failover's refusal, or a command never written (no connection and no offline queue):
    // Redis did nothing. A connection lost or a timeout with the command under way: it may have.
    const notApplied = error instanceof Error && (error.name === 'ReplyError' || error.message.startsWith(NOT_WRITTEN));
    throw new StorageUnavailableError(`Redis is unavailable: ${describe(error)}`, { cause: error, notApplied });
  }
}

/**
 * Runs a pipeline through `callRedis`. A pipeline resolves even when its commands fail (each reply
 * carries its own error), so a connection lost before or during it would otherwise surface later
 * as a plain error, outside `callRedis`, and a Redis outage would not be recognised as one.
 */
export async function execPipeline(pipeline: ChainableCommander): Promise<[error: Error | null, result: unknown][]> {
  return callRedis(async () => {
    const replies = (await pipeline.exec()) ?? [];
    const failed = replies.find(([error]) => error !== null)?.[0];
    if (failed) throw failed;
    return replies;
  });
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Waits out the moment between a reconnect and the client being ready (its socket is open, the
 * ready check is in flight): without an offline queue, a command sent then would fail although
 * Redis is back. Any other state returns at once, so a Redis that is down still fails fast.
 */
export async function settleHandshake(client: RedisClient, maxMs = 500): Promise<void> {
  if (client.status !== 'connect') return;
  await new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      client.off('ready', done);
      client.off('close', done);
      resolve();
    };
    const timer = setTimeout(done, maxMs);
    client.once('ready', done);
    client.once('close', done);
  });
}
