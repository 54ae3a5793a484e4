import { afterAll, beforeAll } from '@jest/globals';
import type { Redis } from 'ioredis';
import { connectRedis, createRedisClient } from '../../storage/redis/client';
import { startTestRedis, type TestRedis, type TestRedisOptions } from './redis-server';

export interface RedisSuite {
  /** The server, started before the suite's tests and stopped after them. */
  readonly server: TestRedis;
  /** A client of the bot's own making on it, closed after the suite; connected unless `connect: false`. */
  client(options?: { connect?: boolean }): Promise<Redis>;
  /** Clients as one bot process has them: its connection and its subscriber, both connected. */
  processClients(): Promise<{ main: Redis; subscriber: Redis }>;
}

/**
 * A real redis-server on a free port for the enclosing `describe` (or the file, at top level),
 * with the clients the tests open on it closed before it stops.
 */
export function redisForSuite(options: TestRedisOptions = {}): RedisSuite {
  let started: TestRedis | undefined;
  const clients: Redis[] = [];
  beforeAll(async () => {
    started = await startTestRedis(options);
  });
  afterAll(async () => {
    for (const client of clients) client.disconnect();
    await started?.stop();
  });
  const suite: RedisSuite = {
    get server(): TestRedis {
      if (started === undefined) throw new Error('the suite Redis starts in beforeAll');
      return started;
    },
    async client({ connect = true } = {}) {
      const created = createRedisClient(suite.server.url);
      clients.push(created);
      if (connect) await connectRedis(created);
      return created;
    },
    async processClients() {
      const [main, subscriber] = await Promise.all([suite.client(), suite.client()]);
      return { main, subscriber };
    },
  };
  return suite;
}
