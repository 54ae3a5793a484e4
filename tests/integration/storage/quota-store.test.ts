import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import type { KeyLimits } from '../../../providers/types';
import { MemoryQuotaStore } from '../../../storage/memory/quota-store';
import { SLOT_WINDOW_MS } from '../../../storage/quota-rules';
import { connectRedis, createRedisClient } from '../../../storage/redis/client';
import { RedisQuotaStore } from '../../../storage/redis/quota-store';
import type { AcquireResult, KeyUsage, QuotaStore } from '../../../providers/ports';
import { startTestRedis, type TestRedis } from '../../helpers/redis-server';

let redisServer: TestRedis;
const clients: Redis[] = [];

beforeAll(async () => {
  redisServer = await startTestRedis();
});
afterAll(async () => {
  for (const client of clients) client.disconnect();
  await redisServer.stop();
});

async function redisStore(prefix: string): Promise<QuotaStore> {
  const client = createRedisClient(redisServer.url);
  clients.push(client);
  await connectRedis(client);
  return new RedisQuotaStore(client, prefix);
}

const implementations: [string, (prefix: string) => Promise<QuotaStore>][] = [
  ['memory', async () => new MemoryQuotaStore()],
  ['redis', redisStore],
];

const DAY = '2026-11-26';
const T0 = Date.UTC(2026, 10, 26, 12, 0, 0);

describe.each(implementations)('QuotaStore contract: %s', (_name, create) => {
  let store: QuotaStore;
  let prefix: string;
  let reservation = 0;

  beforeEach(async () => {
    prefix = `test:${randomUUID()}:`;
    store = await create(prefix);
  });

  const acquire = (
    candidates: { keyId: string; limits: KeyLimits }[],
    now: number,
    tokens = 10,
    day = DAY,
  ): Promise<AcquireResult> => store.acquire({ candidates, tokens, reservationId: `r${++reservation}`, now, day });

  it('spreads requests evenly over equal keys', async () => {
    const candidates = [
      { keyId: 'p:a', limits: { requestsPerDay: 1000 } },
      { keyId: 'p:b', limits: { requestsPerDay: 1000 } },
    ];
    const served: Record<string, number> = {};
    for (let index = 0; index < 100; index++) {
      const result = await acquire(candidates, T0 + index);
      if (!result.ok) throw new Error('expected a key');
      served[result.keyId] = (served[result.keyId] ?? 0) + 1;
    }
    expect(served).toEqual({ 'p:a': 50, 'p:b': 50 });
  });

  it('prefers the key with the most headroom for the day', async () => {
    const candidates = [
      { keyId: 'p:small', limits: { requestsPerDay: 10 } },
      { keyId: 'p:large', limits: { requestsPerDay: 100 } },
    ];
    const served: Record<string, number> = {};
    for (let index = 0; index < 55; index++) {
      const result = await acquire(candidates, T0 + index * 3000);
      if (result.ok) served[result.keyId] = (served[result.keyId] ?? 0) + 1;
    }
    expect(served['p:large']).toBe(50);
    expect(served['p:small']).toBe(5);
  });

  it('admits at most RPM requests in any sliding minute (plus the slot margin) and says when the next fits', async () => {
    expect(SLOT_WINDOW_MS).toBe(60_250);
    const candidates = [{ keyId: 'p:a', limits: { requestsPerMinute: 5 } }];
    for (let index = 0; index < 5; index++) expect((await acquire(candidates, T0 + index * 1000)).ok).toBe(true);
    const refused = await acquire(candidates, T0 + 10_000);
    expect(refused).toEqual({ ok: false, blocks: [{ keyId: 'p:a', reason: 'rpm', until: T0 + SLOT_WINDOW_MS }] });
    // A minute after the first reservation its slot is still held: the provider's own window
    // started when the request arrived, a little later.
    expect((await acquire(candidates, T0 + 60_001)).ok).toBe(false);
    expect((await acquire(candidates, T0 + SLOT_WINDOW_MS - 1)).ok).toBe(false);
    expect((await acquire(candidates, T0 + SLOT_WINDOW_MS + 1)).ok).toBe(true);
    expect((await acquire(candidates, T0 + SLOT_WINDOW_MS + 2)).ok).toBe(false);
  });

  it('frees the slot of a request the provider did not count, at once, and keeps it for one it may have', async () => {
    const candidates = [{ keyId: 'p:a', limits: { requestsPerMinute: 2, requestsPerDay: 10 } }];
    const reserve = (id: string, now: number) =>
      store.acquire({ candidates, tokens: 40, reservationId: id, now, day: DAY });
    expect((await reserve('refused', T0)).ok).toBe(true);
    expect((await reserve('timed-out', T0 + 1)).ok).toBe(true);
    expect((await acquire(candidates, T0 + 2)).ok).toBe(false);
    // A 429 the provider did not count: out of the window and the day.
    await store.settle({
      keyId: 'p:a',
      reservationId: 'refused',
      reservedTokens: 40,
      actualTokens: 0,
      uncount: true,
      now: T0 + 3,
      day: DAY,
    });
    // A timeout after sending: the slot stays taken, only the tokens come back.
    await store.settle({
      keyId: 'p:a',
      reservationId: 'timed-out',
      reservedTokens: 40,
      actualTokens: 0,
      now: T0 + 3,
      day: DAY,
    });
    const [usage] = await store.usage(['p:a'], T0 + 4, DAY);
    expect(usage).toMatchObject({ requestsLastMinute: 1, tokensLastMinute: 0, requestsToday: 1, tokensToday: 0 });
    expect((await acquire(candidates, T0 + 5)).ok).toBe(true);
    expect((await acquire(candidates, T0 + 6)).ok).toBe(false);
  });

  it('admits requests per day up to RPD, and again on the next quota day', async () => {
    const candidates = [{ keyId: 'p:a', limits: { requestsPerDay: 3 } }];
    for (let index = 0; index < 3; index++) expect((await acquire(candidates, T0 + index * 61_000)).ok).toBe(true);
    expect(await acquire(candidates, T0 + 300_000)).toEqual({
      ok: false,
      blocks: [{ keyId: 'p:a', reason: 'rpd', until: undefined }],
    });
    expect((await acquire(candidates, T0 + 400_000, 10, '2026-11-27')).ok).toBe(true);
  });

  it('admits requests per quota month up to its limit, across days, and again from the next month', async () => {
    const candidates = [{ keyId: 'p:a', limits: { requestsPerMinute: 100, requestsPerMonth: 3 } }];
    const at = (day: number, hour = 12): number => Date.UTC(2026, 10, day, hour, 0, 0);
    expect((await acquire(candidates, at(1), 10, '2026-11-01')).ok).toBe(true);
    expect((await acquire(candidates, at(15), 10, '2026-11-15')).ok).toBe(true);
    // A request the provider did not count leaves the month's count too.
    const refused = await store.acquire({
      candidates,
      tokens: 10,
      reservationId: 'refused',
      now: at(29),
      day: '2026-11-29',
    });
    expect(refused.ok).toBe(true);
    await store.settle({
      keyId: 'p:a',
      reservationId: 'refused',
      reservedTokens: 10,
      actualTokens: 0,
      uncount: true,
      now: at(29),
      day: '2026-11-29',
    });
    expect((await acquire(candidates, at(30), 10, '2026-11-30')).ok).toBe(true);
    const [usage] = await store.usage(['p:a'], at(30, 13), '2026-11-30');
    expect(usage).toMatchObject({ requestsToday: 1, requestsThisMonth: 3 });
    // The month is spent: refused without a request until it turns (the router says when).
    expect(await acquire(candidates, at(30, 23), 10, '2026-11-30')).toEqual({
      ok: false,
      blocks: [{ keyId: 'p:a', reason: 'monthly', until: undefined }],
    });
    const december = Date.UTC(2026, 11, 1, 0, 0, 1);
    expect((await acquire(candidates, december, 10, '2026-12-01')).ok).toBe(true);
    const [next] = await store.usage(['p:a'], december, '2026-12-01');
    expect(next).toMatchObject({ requestsToday: 1, requestsThisMonth: 1 });
  });

  it('prefers the key with the most of its month left', async () => {
    const candidates = [
      { keyId: 'p:small', limits: { requestsPerMonth: 10 } },
      { keyId: 'p:large', limits: { requestsPerMonth: 100 } },
    ];
    const served: Record<string, number> = {};
    for (let index = 0; index < 55; index++) {
      const result = await acquire(candidates, T0 + index * 1000);
      if (result.ok) served[result.keyId] = (served[result.keyId] ?? 0) + 1;
    }
    expect(served).toEqual({ 'p:large': 50, 'p:small': 5 });
  });

  it('counts tokens per minute and per day, and refuses a request larger than the minute allows', async () => {
    const candidates = [{ keyId: 'p:a', limits: { tokensPerMinute: 100, tokensPerDay: 250 } }];
    expect((await acquire(candidates, T0, 60)).ok).toBe(true);
    expect(await acquire(candidates, T0 + 1000, 50)).toEqual({
      ok: false,
      blocks: [{ keyId: 'p:a', reason: 'tpm', until: T0 + SLOT_WINDOW_MS }],
    });
    expect((await acquire(candidates, T0 + 1000, 40)).ok).toBe(true);
    expect(await acquire(candidates, T0 + 2000, 101)).toEqual({
      ok: false,
      blocks: [{ keyId: 'p:a', reason: 'too_large', until: undefined }],
    });
    expect((await acquire(candidates, T0 + 62_000, 100)).ok).toBe(true);
    expect(await acquire(candidates, T0 + 130_000, 60)).toEqual({
      ok: false,
      blocks: [{ keyId: 'p:a', reason: 'tpd', until: undefined }],
    });
  });

  it('counts tokens per sliding hour per key (audio seconds), in minute buckets, and says when the next fits', async () => {
    const HOUR = 3_600_000;
    const candidates = [{ keyId: 'p:a', limits: { tokensPerHour: 100 } }];
    expect((await acquire(candidates, T0, 60)).ok).toBe(true);
    expect((await acquire(candidates, T0 + 10 * 60_000, 30)).ok).toBe(true);
    // 20 more would make 110 within the hour: room again when the first minute's 60 leave it.
    expect(await acquire(candidates, T0 + 20 * 60_000, 20)).toEqual({
      ok: false,
      blocks: [{ keyId: 'p:a', reason: 'tph', until: T0 + HOUR }],
    });
    expect((await acquire(candidates, T0 + 20 * 60_000, 10)).ok).toBe(true);
    expect(await acquire(candidates, T0 + HOUR - 1, 20)).toEqual({
      ok: false,
      blocks: [{ keyId: 'p:a', reason: 'tph', until: T0 + HOUR }],
    });
    expect((await acquire(candidates, T0 + HOUR, 60)).ok).toBe(true);
    expect(await acquire(candidates, T0 + HOUR + 1, 101)).toEqual({
      ok: false,
      blocks: [{ keyId: 'p:a', reason: 'too_large', until: undefined }],
    });
    // Each key has its own hour: a second key takes what the first cannot.
    const both = [...candidates, { keyId: 'p:b', limits: { tokensPerHour: 100 } }];
    expect(await acquire(both, T0 + HOUR + 2, 80)).toEqual({ ok: true, keyId: 'p:b' });
    expect(await acquire(both, T0 + HOUR + 3, 40)).toEqual({
      ok: false,
      blocks: [
        // 100 + 40: room once the buckets of minutes 10 (30) and 20 (10) have left the hour.
        { keyId: 'p:a', reason: 'tph', until: T0 + HOUR + 20 * 60_000 },
        { keyId: 'p:b', reason: 'tph', until: T0 + 2 * HOUR },
      ],
    });
  });

  it('gives back the hour of a request the provider did not count, and corrects it with reported usage', async () => {
    const candidates = [{ keyId: 'p:a', limits: { tokensPerHour: 100 } }];
    await store.acquire({ candidates, tokens: 80, reservationId: 'refused', now: T0, day: DAY });
    expect((await acquire(candidates, T0 + 1, 30)).ok).toBe(false);
    await store.settle({
      keyId: 'p:a',
      reservationId: 'refused',
      reservedTokens: 80,
      actualTokens: 0,
      uncount: true,
      now: T0 + 2,
      day: DAY,
    });
    await store.acquire({ candidates, tokens: 70, reservationId: 'estimated', now: T0 + 3, day: DAY });
    expect((await acquire(candidates, T0 + 4, 40)).ok).toBe(false);
    await store.settle({
      keyId: 'p:a',
      reservationId: 'estimated',
      reservedTokens: 70,
      actualTokens: 50,
      now: T0 + 5,
      day: DAY,
    });
    expect((await acquire(candidates, T0 + 6, 50)).ok).toBe(true);
    expect((await acquire(candidates, T0 + 7, 1)).ok).toBe(false);
  });

  it('settles a reservation with the reported usage', async () => {
    const candidates = [{ keyId: 'p:a', limits: { tokensPerMinute: 100 } }];
    await store.acquire({ candidates, tokens: 90, reservationId: 'big', now: T0, day: DAY });
    expect((await acquire(candidates, T0 + 1, 20)).ok).toBe(false);
    await store.settle({
      keyId: 'p:a',
      reservationId: 'big',
      reservedTokens: 90,
      actualTokens: 30,
      now: T0 + 2,
      day: DAY,
    });
    expect((await acquire(candidates, T0 + 3, 20)).ok).toBe(true);
    const [usage] = await store.usage(['p:a'], T0 + 4, DAY);
    expect(usage).toMatchObject({ requestsLastMinute: 2, tokensLastMinute: 50, requestsToday: 2, tokensToday: 50 });
  });

  it('keeps a blocked key out until the block ends, and a longer block wins', async () => {
    const candidates = [
      { keyId: 'p:a', limits: {} },
      { keyId: 'p:b', limits: {} },
    ];
    await store.block('p:a', 'cooldown', T0 + 30_000, T0);
    await store.block('p:a', 'cooldown', T0 + 5_000, T0);
    for (let index = 0; index < 4; index++)
      expect(await acquire(candidates, T0 + index)).toEqual({ ok: true, keyId: 'p:b' });
    await store.block('p:b', 'bad', T0 + 3_600_000, T0);
    expect(await acquire(candidates, T0 + 29_999)).toEqual({
      ok: false,
      blocks: [
        { keyId: 'p:a', reason: 'cooldown', until: T0 + 30_000 },
        { keyId: 'p:b', reason: 'bad', until: T0 + 3_600_000 },
      ],
    });
    expect(await acquire(candidates, T0 + 30_000)).toEqual({ ok: true, keyId: 'p:a' });
    await store.unblock('p:b');
    const [usage] = await store.usage(['p:b'], T0 + 30_001, DAY);
    expect(usage?.block).toBeUndefined();
  });

  it('learns limits and usage from headers and blocks a key whose window is empty', async () => {
    const candidates = [{ keyId: 'p:a', limits: { requestsPerDay: 1000, tokensPerMinute: 50_000 } }];
    await store.observe(
      'p:a',
      {
        requestsPerDay: { limit: 14_400, remaining: 14_000, resetAt: T0 + 3_600_000 },
        tokensPerMinute: { limit: 6000, remaining: 5000, resetAt: T0 + 20_000 },
      },
      T0,
      DAY,
    );
    const [usage] = await store.usage(['p:a'], T0, DAY);
    expect(usage).toMatchObject({
      requestsToday: 400,
      tokensLastMinute: 1000,
      learnedLimits: { requestsPerDay: 14_400, tokensPerMinute: 6000 },
    });
    // The phantom 1000 tokens leave the window when the provider's window resets.
    expect((await acquire(candidates, T0 + 1000, 5500)).ok).toBe(false);
    expect((await acquire(candidates, T0 + 20_001, 5500)).ok).toBe(true);

    await store.observe('p:a', { requests: { limit: 20, remaining: 0, resetAt: T0 + 90_000 } }, T0 + 30_000, DAY);
    expect(await acquire(candidates, T0 + 31_000)).toEqual({
      ok: false,
      blocks: [{ keyId: 'p:a', reason: 'cooldown', until: T0 + 90_000 }],
    });
  });

  it('reports usage of keys it has never seen as zero', async () => {
    const [usage] = await store.usage(['p:never'], T0, DAY);
    expect(usage).toEqual({
      keyId: 'p:never',
      requestsLastMinute: 0,
      tokensLastMinute: 0,
      requestsToday: 0,
      tokensToday: 0,
      requestsThisMonth: 0,
      learnedLimits: {},
      block: undefined,
    });
  });
});

describe('RedisQuotaStore shared by several processes', () => {
  it('never admits more than the limit across clients racing for one key', async () => {
    const prefix = `test:${randomUUID()}:`;
    const stores = await Promise.all([redisStore(prefix), redisStore(prefix), redisStore(prefix)]);
    const candidates = [{ keyId: 'p:shared', limits: { requestsPerMinute: 10 } }];
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, index) =>
        stores[index % 3]!.acquire({
          candidates,
          tokens: 1,
          reservationId: `race-${index}`,
          now: T0 + index,
          day: DAY,
        }),
      ),
    );
    expect(results.filter((result) => result.ok)).toHaveLength(10);
  });
});

describe('RedisQuotaStore settles in batches', () => {
  async function scriptCalls(client: Redis): Promise<number> {
    const info = await client.info('commandstats');
    let calls = 0;
    for (const match of info.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)) calls += Number(match[1]);
    return calls;
  }

  it('writes the settlements of a window with one script, and shows them to usage at once', async () => {
    const client = createRedisClient(redisServer.url);
    clients.push(client);
    await connectRedis(client);
    const prefix = `test:${randomUUID()}:`;
    const store = new RedisQuotaStore(client, prefix, { settleAfterMs: 60_000 });
    const candidates = [
      { keyId: 'p:a', limits: { tokensPerMinute: 1000 } },
      { keyId: 'p:b', limits: { tokensPerMinute: 1000 } },
    ];
    const picked: { keyId: string; reservationId: string }[] = [];
    for (let index = 0; index < 6; index++) {
      const reservationId = `r${index}`;
      const result = await store.acquire({ candidates, tokens: 100, reservationId, now: T0 + index, day: DAY });
      if (!result.ok) throw new Error('a key with room was refused');
      picked.push({ keyId: result.keyId, reservationId });
    }
    const total = (usage: readonly KeyUsage[], figure: 'tokensLastMinute' | 'tokensToday'): number =>
      usage.reduce((sum, key) => sum + key[figure], 0);
    expect(total(await store.usage(['p:a', 'p:b'], T0 + 10, DAY), 'tokensLastMinute')).toBe(600);

    const before = await scriptCalls(client);
    const settled = picked.map(({ keyId, reservationId }) =>
      store.settle({ keyId, reservationId, reservedTokens: 100, actualTokens: 10, now: T0 + 11, day: DAY }),
    );
    // Nothing is written yet (the window is a minute long); reading usage writes them first.
    expect(await scriptCalls(client)).toBe(before);
    const usage = await store.usage(['p:a', 'p:b'], T0 + 12, DAY);
    await Promise.all(settled);
    expect(total(usage, 'tokensLastMinute')).toBe(60);
    expect(total(usage, 'tokensToday')).toBe(60);
    // The six settlements, on two keys, took one script.
    expect((await scriptCalls(client)) - before).toBe(1);
  });

  it("writes waiting settlements before comparing usage with what the provider's headers say", async () => {
    const client = createRedisClient(redisServer.url);
    clients.push(client);
    await connectRedis(client);
    const store = new RedisQuotaStore(client, `test:${randomUUID()}:`, { settleAfterMs: 60_000 });
    const candidates = [{ keyId: 'p:a', limits: { tokensPerMinute: 1000 } }];
    expect((await store.acquire({ candidates, tokens: 100, reservationId: 'r', now: T0, day: DAY })).ok).toBe(true);
    // The answer used 10 tokens; the provider counts 60 used this minute (another client of the key).
    const settled = store.settle({
      keyId: 'p:a',
      reservationId: 'r',
      reservedTokens: 100,
      actualTokens: 10,
      now: T0 + 1,
      day: DAY,
    });
    await store.observe('p:a', { tokensPerMinute: { limit: 1000, remaining: 940 } }, T0 + 1, DAY);
    // Settled first (10), then raised to the provider's 60; the other order would leave 10.
    const [usage] = await store.usage(['p:a'], T0 + 2, DAY);
    await settled;
    expect(usage?.tokensLastMinute).toBe(60);
  });
});
