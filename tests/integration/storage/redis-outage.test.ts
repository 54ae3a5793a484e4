import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { Failover, FallbackQuotaStore, GuardedHistoryStore } from '../../../storage/fallback';
import { MemoryQuotaStore } from '../../../storage/memory/quota-store';
import { connectRedis, createRedisClient } from '../../../storage/redis/client';
import { RedisHistoryStore } from '../../../storage/redis/history-store';
import { RedisQuotaStore } from '../../../storage/redis/quota-store';
import { isStorageUnavailable } from '../../../storage/types';
import { startTestRedis, type TestRedis } from '../../helpers/redis-server';

const DAY = '2026-11-26';
const T0 = Date.UTC(2026, 10, 26, 12, 0, 0);
const candidates = [{ keyId: 'p:a', limits: { requestsPerMinute: 100 } }];

describe('quota store while Redis goes away and comes back', () => {
  let redis: TestRedis;
  let client: Redis;
  const changes: boolean[] = [];

  beforeAll(async () => {
    redis = await startTestRedis();
    client = createRedisClient(redis.url);
    await connectRedis(client);
  });
  afterAll(async () => {
    client.disconnect();
    await redis.stop();
  });

  it('fails fast with StorageUnavailableError, falls back to local state, and resumes on Redis without a restart', async () => {
    const primary = new RedisQuotaStore(client, `test:${randomUUID()}:`);
    const store = new FallbackQuotaStore(
      primary,
      new MemoryQuotaStore(),
      new Failover('quota', ({ degraded }) => changes.push(degraded)),
    );
    const acquire = (index: number) =>
      store.acquire({ candidates, tokens: 1, reservationId: `r${index}`, now: T0 + index, day: DAY });

    expect((await acquire(1)).ok).toBe(true);
    await redis.kill();

    const started = performance.now();
    const primaryError = await primary
      .acquire({ candidates, tokens: 1, reservationId: 'direct', now: T0, day: DAY })
      .catch((error: unknown) => error);
    expect(isStorageUnavailable(primaryError)).toBe(true);
    for (let index = 2; index < 12; index++) expect((await acquire(index)).ok).toBe(true);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(changes).toEqual([true]);

    await redis.start();
    if (client.status !== 'ready') await new Promise<void>((resolve) => client.once('ready', () => resolve()));
    expect((await acquire(20)).ok).toBe(true);
    expect(changes).toEqual([true, false]);
    const [usage] = await primary.usage(['p:a'], T0 + 21, DAY);
    // Redis restarted empty (no persistence in tests): only the request after it returned is there.
    expect(usage?.requestsLastMinute).toBe(1);
  });
});

describe('history while Redis hangs', () => {
  let redis: TestRedis;
  let client: Redis;

  beforeAll(async () => {
    redis = await startTestRedis();
    client = createRedisClient(redis.url, { commandTimeoutMs: 300 });
    await connectRedis(client);
  });
  afterAll(async () => {
    redis.thaw();
    client.disconnect();
    await redis.stop();
  });

  it('pays the command timeout once, fails the calls of the next second at once, and answers again after', async () => {
    const changes: boolean[] = [];
    const history = new GuardedHistoryStore(
      new RedisHistoryStore(client, `test:${randomUUID()}:`),
      new Failover('history', ({ degraded }) => changes.push(degraded)),
    );
    const limits = { maxMessages: 10, ttlSeconds: 60 };
    await history.append(
      'c',
      [
        { role: 'user', content: 'سلام ۱۲۳' },
        { role: 'assistant', content: 'درود' },
      ],
      limits,
    );
    redis.freeze();

    const first = performance.now();
    expect(isStorageUnavailable(await history.load('c').catch((error: unknown) => error))).toBe(true);
    expect(performance.now() - first).toBeGreaterThanOrEqual(250);
    const rest = performance.now();
    for (let index = 0; index < 5; index++) {
      expect(isStorageUnavailable(await history.load('c').catch((error: unknown) => error))).toBe(true);
    }
    // Without resting, each of these would have waited for the 300 ms timeout.
    expect(performance.now() - rest).toBeLessThan(250);
    expect(changes).toEqual([true]);

    redis.thaw();
    let loaded: unknown;
    for (let attempt = 0; attempt < 40 && !Array.isArray(loaded); attempt++) {
      loaded = await history.load('c').catch(() => undefined);
      if (!Array.isArray(loaded)) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(loaded).toEqual([
      { role: 'user', content: 'سلام ۱۲۳' },
      { role: 'assistant', content: 'درود' },
    ]);
    expect(changes).toEqual([true, false]);
  });
});
