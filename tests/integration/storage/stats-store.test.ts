import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { MemoryStatsStore } from '../../../storage/memory/stats-store';
import { connectRedis, createRedisClient } from '../../../storage/redis/client';
import { RedisStatsStore } from '../../../storage/redis/stats-store';
import { LATENCY_SAMPLES } from '../../../storage/stats-counters';
import type { AttemptRecord, StatsStore } from '../../../storage/types';
import { startTestRedis, type TestRedis } from '../../helpers/redis-server';

let redisServer: TestRedis;
let client: Redis;

beforeAll(async () => {
  redisServer = await startTestRedis();
  client = createRedisClient(redisServer.url);
  await connectRedis(client);
});
afterAll(async () => {
  client.disconnect();
  await redisServer.stop();
});

const implementations: [string, () => StatsStore][] = [
  ['memory', () => new MemoryStatsStore()],
  ['redis', () => new RedisStatsStore(client, `test:${randomUUID()}:`)],
];

const attempt = (overrides: Partial<AttemptRecord>): AttemptRecord => ({
  provider: 'alpha',
  keyId: 'alpha:k1',
  outcome: 'success',
  latencyMs: 100,
  fallback: false,
  at: 0,
  ...overrides,
});

describe.each(implementations)('StatsStore contract: %s', (_name, create) => {
  it('counts attempts per provider and key, with failures by kind, fallbacks, tokens and latencies', async () => {
    const store = create();
    await store.recordAttempt(attempt({ latencyMs: 120, inputTokens: 10, outputTokens: 5 }), 'd1');
    await store.recordAttempt(attempt({ outcome: 'transient', latencyMs: 3000 }), 'd1');
    await store.recordAttempt(attempt({ keyId: 'alpha:k2', outcome: 'rate_limited' }), 'd1');
    await store.recordAttempt(attempt({ provider: 'beta', keyId: 'beta:k1', fallback: true, latencyMs: 80 }), 'd1');
    await store.recordAttempt(attempt({}), 'd2');

    const snapshot = await store.read('d1');
    expect(snapshot.providers.alpha).toEqual({
      requests: 3,
      successes: 1,
      fallbacks: 0,
      inputTokens: 10,
      outputTokens: 5,
      failures: { transient: 1, rate_limited: 1 },
      latencies: [120],
    });
    expect(snapshot.providers.beta).toMatchObject({ requests: 1, successes: 1, fallbacks: 1, latencies: [80] });
    expect(snapshot.keys['alpha:k1']).toMatchObject({ requests: 2, successes: 1, failures: { transient: 1 } });
    expect(snapshot.keys['alpha:k2']).toMatchObject({ requests: 1, successes: 0, failures: { rate_limited: 1 } });
    expect((await store.read('d2')).providers.alpha?.requests).toBe(1);
    expect((await store.read('d3')).providers).toEqual({});
  });

  it('keeps the most recent latencies, newest first, up to the cap', async () => {
    const store = create();
    for (let index = 1; index <= LATENCY_SAMPLES + 20; index++) {
      await store.recordAttempt(attempt({ latencyMs: index }), 'd1');
    }
    const latencies = (await store.read('d1')).providers.alpha?.latencies ?? [];
    expect(latencies).toHaveLength(LATENCY_SAMPLES);
    expect(latencies.slice(0, 3)).toEqual([LATENCY_SAMPLES + 20, LATENCY_SAMPLES + 19, LATENCY_SAMPLES + 18]);
    expect(latencies.at(-1)).toBe(21);
  });

  it('counts active users and ranks the top users', async () => {
    const store = create();
    for (const [user, times] of [
      ['111', 3],
      ['222', 1],
      ['333', 5],
    ] as const) {
      for (let index = 0; index < times; index++) await store.recordUserRequest(user, 'd1');
    }
    const snapshot = await store.read('d1', 2);
    expect(snapshot.activeUsers).toBe(3);
    expect(snapshot.topUsers).toEqual([
      { userId: '333', requests: 5 },
      { userId: '111', requests: 3 },
    ]);
  });
});
