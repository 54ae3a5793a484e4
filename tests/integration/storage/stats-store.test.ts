import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { MemoryStatsStore } from '../../../storage/memory/stats-store';
import { connectRedis, createRedisClient } from '../../../storage/redis/client';
import { RedisStatsStore } from '../../../storage/redis/stats-store';
import { LATENCY_SAMPLES } from '../../../storage/stats-counters';
import { isStorageUnavailable } from '../../../storage/types';
import type { AttemptRecord, StatsStore } from '../../../providers/ports';
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
  maskedKey: 'alph…k1',
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
    await store.recordAttempt(attempt({ provider: 'beta', keyId: 'beta:k1', hedge: true, latencyMs: 90 }), 'd1');
    await store.recordAttempt(attempt({}), 'd2');

    const snapshot = await store.read('d1');
    expect(snapshot.providers.alpha).toEqual({
      requests: 3,
      successes: 1,
      fallbacks: 0,
      inputTokens: 10,
      outputTokens: 5,
      hedges: 0,
      transcriptions: 0,
      audioSeconds: 0,
      mediaRequests: 0,
      failures: { transient: 1, rate_limited: 1 },
      latencies: [120],
    });
    expect(snapshot.providers.beta).toMatchObject({
      requests: 2,
      successes: 2,
      fallbacks: 1,
      hedges: 1,
      latencies: [90, 80],
    });
    expect(snapshot.keys['beta:k1']).toMatchObject({ hedges: 1 });
    expect(snapshot.keys['alpha:k1']).toMatchObject({ requests: 2, successes: 1, failures: { transient: 1 } });
    expect(snapshot.keys['alpha:k2']).toMatchObject({ requests: 1, successes: 0, failures: { rate_limited: 1 } });
    expect((await store.read('d2')).providers.alpha?.requests).toBe(1);
    expect((await store.read('d3')).providers).toEqual({});
  });

  it('counts transcriptions with their audio seconds, and media requests, per provider and key, for answers', async () => {
    const store = create();
    await store.recordAttempt(attempt({ keyId: 'alpha:stt', transcription: true, audioSeconds: 12 }), 'd1');
    await store.recordAttempt(attempt({ keyId: 'alpha:stt', transcription: true, audioSeconds: 3.2 }), 'd1');
    // A failed transcription cost a request, not seconds transcribed.
    await store.recordAttempt(
      attempt({ keyId: 'alpha:stt', transcription: true, audioSeconds: 30, outcome: 'bad_request' }),
      'd1',
    );
    await store.recordAttempt(attempt({ media: true }), 'd1');
    await store.recordAttempt(attempt({ provider: 'beta', keyId: 'beta:k1', media: true }), 'd1');
    await store.recordAttempt(attempt({ provider: 'beta', keyId: 'beta:k1' }), 'd1');
    const snapshot = await store.read('d1');
    expect(snapshot.providers.alpha).toMatchObject({
      requests: 4,
      transcriptions: 2,
      audioSeconds: 16,
      mediaRequests: 1,
    });
    expect(snapshot.keys['alpha:stt']).toMatchObject({ requests: 3, transcriptions: 2, audioSeconds: 16 });
    expect(snapshot.keys['alpha:k1']).toMatchObject({ transcriptions: 0, audioSeconds: 0, mediaRequests: 1 });
    expect(snapshot.providers.beta).toMatchObject({ requests: 2, transcriptions: 0, mediaRequests: 1 });
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
    // One user's count, whether among the top users or not; nobody's is 0.
    expect(await store.userRequests('222', 'd1')).toBe(1);
    expect(await store.userRequests('333', 'd1')).toBe(5);
    expect(await store.userRequests('444', 'd1')).toBe(0);
    expect(await store.userRequests('333', 'd2')).toBe(0);
  });
});

/** Scripts Redis has run so far (every stats write is one). */
async function scriptCalls(redis: Redis): Promise<number> {
  const info = await redis.info('commandstats');
  let calls = 0;
  for (const match of info.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)) calls += Number(match[1]);
  return calls;
}

describe('RedisStatsStore writes in batches', () => {
  it('writes the records of one turn of the event loop with one script, counting every one', async () => {
    const store = new RedisStatsStore(client, `test:${randomUUID()}:`);
    await store.recordAttempt(attempt({}), 'd1'); // loads the script on the connection
    const before = await scriptCalls(client);
    const records: Promise<void>[] = [];
    for (let index = 0; index < 50; index++) {
      records.push(store.recordAttempt(attempt({ latencyMs: index, inputTokens: 2, outputTokens: 1 }), 'd1'));
      records.push(store.recordAttempt(attempt({ keyId: 'alpha:k2', outcome: 'rate_limited' }), 'd1'));
      records.push(store.recordUserRequest(`user-${index % 7}`, 'd1'));
    }
    await Promise.all(records);
    // One script for the whole batch.
    expect((await scriptCalls(client)) - before).toBe(1);

    const snapshot = await store.read('d1');
    expect(snapshot.providers.alpha).toMatchObject({
      requests: 101,
      successes: 51,
      inputTokens: 100,
      outputTokens: 50,
      failures: { rate_limited: 50 },
    });
    expect(snapshot.keys['alpha:k2']).toMatchObject({ requests: 50, successes: 0, failures: { rate_limited: 50 } });
    // Newest first, the batch's own order kept.
    expect(snapshot.providers.alpha?.latencies.slice(0, 3)).toEqual([49, 48, 47]);
    expect(snapshot.activeUsers).toBe(7);
    expect(snapshot.topUsers[0]).toEqual({ userId: 'user-0', requests: 8 });
  });

  it('writes the records of a whole window with one script, across turns of the event loop', async () => {
    const prefix = `test:${randomUUID()}:`;
    const store = new RedisStatsStore(client, prefix, { flushAfterMs: 60_000 });
    await new RedisStatsStore(client, `test:${randomUUID()}:`).recordUserRequest('0', 'd0'); // loads the script
    const before = await scriptCalls(client);
    const records = [store.recordAttempt(attempt({}), 'd1')];
    await new Promise<void>((resolve) => setImmediate(resolve));
    records.push(store.recordAttempt(attempt({}), 'd1'), store.recordUserRequest('1', 'd1'));
    // Nothing is written before the window ends, or before shutdown asks for it.
    expect(await scriptCalls(client)).toBe(before);
    expect((await new RedisStatsStore(client, prefix).read('d1')).providers.alpha).toBeUndefined();
    await store.flush();
    await Promise.all(records);
    expect((await scriptCalls(client)) - before).toBe(1);
    const snapshot = await new RedisStatsStore(client, prefix).read('d1');
    expect(snapshot.providers.alpha?.requests).toBe(2);
    expect(snapshot.activeUsers).toBe(1);
  });

  it('writes a full batch at once, without waiting for the window to end', async () => {
    const store = new RedisStatsStore(client, `test:${randomUUID()}:`, { flushAfterMs: 60_000, maxBatchRecords: 3 });
    // These promises settle only once written: with a minute's window, only a full batch can.
    await Promise.all([
      store.recordAttempt(attempt({}), 'd1'),
      store.recordAttempt(attempt({}), 'd1'),
      store.recordUserRequest('9', 'd1'),
    ]);
    expect((await store.read('d1')).providers.alpha?.requests).toBe(2);
  });

  it('shows the records of the current turn to a read in the same turn', async () => {
    const store = new RedisStatsStore(client, `test:${randomUUID()}:`);
    void store.recordAttempt(attempt({ provider: 'gamma', keyId: 'gamma:k1' }), 'd1');
    void store.recordUserRequest('42', 'd1');
    const snapshot = await store.read('d1');
    expect(snapshot.providers.gamma?.requests).toBe(1);
    expect(snapshot.activeUsers).toBe(1);
  });

  it('fails every record of a batch it could not write, so that the fallback keeps them', async () => {
    const down = createRedisClient('redis://127.0.0.1:1', { commandTimeoutMs: 200 });
    const store = new RedisStatsStore(down, `test:${randomUUID()}:`);
    const outcomes = await Promise.allSettled([
      store.recordAttempt(attempt({}), 'd1'),
      store.recordUserRequest('7', 'd1'),
    ]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected']);
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') expect(isStorageUnavailable(outcome.reason)).toBe(true);
    }
    down.disconnect();
  });
});
