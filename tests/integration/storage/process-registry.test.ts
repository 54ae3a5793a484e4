import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { MemoryProcessRegistry } from '../../../storage/memory/process-registry';
import { connectRedis, createRedisClient } from '../../../storage/redis/client';
import { RedisProcessRegistry } from '../../../storage/redis/process-registry';
import type { ProcessRegistry } from '../../../storage/types';
import { startTestRedis, type TestRedis } from '../../helpers/redis-server';

let redisServer: TestRedis;
let redis: Redis;

beforeAll(async () => {
  redisServer = await startTestRedis();
  redis = createRedisClient(redisServer.url);
  await connectRedis(redis);
});
afterAll(async () => {
  redis.disconnect();
  await redisServer.stop();
});

const registries: [string, () => ProcessRegistry][] = [
  ['memory', () => new MemoryProcessRegistry()],
  ['redis', () => new RedisProcessRegistry(redis, `test:${randomUUID()}:`)],
];

describe.each(registries)('ProcessRegistry contract: %s', (_name, create) => {
  it('lists the processes whose beat has not expired, in id order, with what they reported', async () => {
    const registry = create();
    await registry.beat('b', '{"version":"1"}', 1_000, 5_000);
    await registry.beat('a', '{"version":"2"}', 2_000, 5_000);
    expect(await registry.list(3_000)).toEqual([
      { id: 'a', info: '{"version":"2"}', at: 2_000 },
      { id: 'b', info: '{"version":"1"}', at: 1_000 },
    ]);
    // b's beat expires at 6 000; a beating again keeps it.
    await registry.beat('a', '{"version":"2"}', 5_500, 5_000);
    expect((await registry.list(6_500)).map((beat) => beat.id)).toEqual(['a']);
    expect(await registry.list(20_000)).toEqual([]);
  });

  it('forgets a process that stops', async () => {
    const registry = create();
    await registry.beat('a', '{}', 1_000, 5_000);
    await registry.beat('b', '{}', 1_000, 5_000);
    await registry.remove('a');
    expect((await registry.list(2_000)).map((beat) => beat.id)).toEqual(['b']);
  });
});

describe('RedisProcessRegistry', () => {
  it('keeps one hash that expires when nobody beats any more', async () => {
    const prefix = `test:${randomUUID()}:`;
    await new RedisProcessRegistry(redis, prefix).beat('a', '{}', Date.now(), 4_000);
    expect(await redis.type(`${prefix}processes`)).toBe('hash');
    const ttl = await redis.pttl(`${prefix}processes`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(4_000);
  });
});
