import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import type { ChatMessage } from '../../../providers/types';
import { MemoryCounterStore } from '../../../storage/memory/counter-store';
import { MemoryHistoryStore } from '../../../storage/memory/history-store';
import { MemorySettingsStore } from '../../../storage/memory/settings-store';
import { connectRedis, createRedisClient } from '../../../storage/redis/client';
import { RedisCounterStore } from '../../../storage/redis/counter-store';
import { RedisHistoryStore } from '../../../storage/redis/history-store';
import { RedisSettingsStore } from '../../../storage/redis/settings-store';
import type { CounterStore, HistoryStore, SettingsStore } from '../../../storage/types';
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

const limits = { maxMessages: 6, ttlSeconds: 3600 };
const turn = (index: number): ChatMessage[] => [
  { role: 'user', content: `پرسش ${index} — question ‌${index}` },
  { role: 'assistant', content: `پاسخ ۱۲۳ answer ${index}` },
];

const histories: [string, () => HistoryStore][] = [
  ['memory', () => new MemoryHistoryStore()],
  ['redis', () => new RedisHistoryStore(client, `test:${randomUUID()}:`)],
];

describe.each(histories)('HistoryStore contract: %s', (_name, create) => {
  it('keeps conversations apart, appends whole exchanges and keeps the last pairs', async () => {
    const store = create();
    for (let index = 1; index <= 5; index++) await store.append('alice', turn(index), limits);
    await store.append('bob', turn(99), limits);
    expect(await store.load('alice')).toEqual([...turn(3), ...turn(4), ...turn(5)]);
    expect(await store.load('bob')).toEqual(turn(99));
    expect(await store.load('nobody')).toEqual([]);
  });

  it('trims an odd limit down to whole pairs, so history never starts with an answer', async () => {
    const store = create();
    for (let index = 1; index <= 4; index++) await store.append('carol', turn(index), { ...limits, maxMessages: 5 });
    const kept = await store.load('carol');
    expect(kept).toHaveLength(4);
    expect(kept[0]?.role).toBe('user');
  });

  it('keeps each message with its token count, and loads messages stored without one', async () => {
    const store = create();
    await store.append(
      'tina',
      [
        { role: 'user', content: 'سلام، ۱۲ کتاب', tokens: 17 },
        { role: 'assistant', content: 'درود', tokens: 4 },
      ],
      limits,
    );
    await store.append('tina', turn(1), limits);
    expect(await store.load('tina')).toEqual([
      { role: 'user', content: 'سلام، ۱۲ کتاب', tokens: 17 },
      { role: 'assistant', content: 'درود', tokens: 4 },
      ...turn(1),
    ]);
  });

  it('replaces the last messages only while they are the expected ones', async () => {
    const store = create();
    await store.append('erin', turn(1), limits);
    await store.append('erin', turn(2), limits);
    const redone: ChatMessage[] = [
      turn(2)[0]!,
      { role: 'assistant', content: 'پاسخ دیگر — another answer', tokens: 9 },
    ];
    // A stale expectation (the conversation moved on) changes nothing.
    expect(await store.replaceLast('erin', turn(1), redone, limits)).toBe(false);
    expect(await store.replaceLast('nobody', turn(2), redone, limits)).toBe(false);
    expect(await store.load('erin')).toEqual([...turn(1), ...turn(2)]);
    // Token counts are not compared: a message is the same by role and text.
    expect(await store.replaceLast('erin', [{ ...turn(2)[0]!, tokens: 3 }, turn(2)[1]!], redone, limits)).toBe(true);
    expect(await store.load('erin')).toEqual([...turn(1), ...redone]);
    // The answer alone, continued.
    const continued: ChatMessage = { role: 'assistant', content: `${redone[1]!.content} and more` };
    expect(await store.replaceLast('erin', [redone[1]!], [continued], limits)).toBe(true);
    expect(await store.load('erin')).toEqual([...turn(1), redone[0], continued]);
    // A whole conversation can be the expected part, and the result is trimmed to the limit.
    const all = await store.load('erin');
    expect(await store.replaceLast('erin', all, [...turn(3), ...turn(4), ...turn(5), ...turn(6)], limits)).toBe(true);
    expect(await store.load('erin')).toEqual([...turn(4), ...turn(5), ...turn(6)]);
  });

  it('forgets a conversation on clear', async () => {
    const store = create();
    await store.append('dave', turn(1), limits);
    await store.clear('dave');
    expect(await store.load('dave')).toEqual([]);
  });
});

const settingsStores: [string, () => SettingsStore][] = [
  ['memory', () => new MemorySettingsStore()],
  ['redis', () => new RedisSettingsStore(client, `test:${randomUUID()}:`)],
];

describe.each(settingsStores)('SettingsStore contract: %s', (_name, create) => {
  it('keeps each user its own fields, changes and removes them one by one', async () => {
    const store = create();
    expect(await store.load('alice')).toEqual({});
    expect(await store.update('alice', { persona: 'teacher', language: 'fa' })).toEqual({
      persona: 'teacher',
      language: 'fa',
    });
    expect(await store.update('bob', { prompt: 'پاسخ کوتاه بده — answer briefly' })).toEqual({
      prompt: 'پاسخ کوتاه بده — answer briefly',
    });
    expect(await store.update('alice', { persona: null, streaming: 'off' })).toEqual({
      language: 'fa',
      streaming: 'off',
    });
    expect(await store.load('alice')).toEqual({ language: 'fa', streaming: 'off' });
    expect(await store.load('bob')).toEqual({ prompt: 'پاسخ کوتاه بده — answer briefly' });
    await store.clear('alice');
    expect(await store.load('alice')).toEqual({});
    expect(await store.load('bob')).toEqual({ prompt: 'پاسخ کوتاه بده — answer briefly' });
  });

  it('never loses one of two changes made at once', async () => {
    const store = create();
    await Promise.all([store.update('carol', { model: 'fast' }), store.update('carol', { streaming: 'on' })]);
    expect(await store.load('carol')).toEqual({ model: 'fast', streaming: 'on' });
  });
});

describe('MemoryHistoryStore bounds', () => {
  it('drops the least recently used conversations when the text in all passes its budget', async () => {
    const store = new MemoryHistoryStore(100, Date.now, 1000);
    const long = (text: string): ChatMessage[] => [
      { role: 'user', content: text.repeat(200) },
      { role: 'assistant', content: 'ok' },
    ];
    for (const user of ['a', 'b', 'c', 'd', 'e', 'f']) await store.append(user, long(user), limits);
    expect(store.size).toBeLessThanOrEqual(4);
    expect(await store.load('a')).toEqual([]);
    expect(await store.load('f')).toHaveLength(2);
  });

  it('keeps at most maxConversations, dropping the least recently used, and expires by TTL', async () => {
    let now = 0;
    const store = new MemoryHistoryStore(3, () => now);
    for (const user of ['a', 'b', 'c']) await store.append(user, turn(1), limits);
    await store.append('a', turn(2), limits); // a is now the most recent
    await store.append('d', turn(1), limits);
    expect(store.size).toBe(3);
    expect(await store.load('b')).toEqual([]);
    expect(await store.load('a')).toHaveLength(4);
    now += 3600_001;
    expect(await store.load('a')).toEqual([]);
  });
});

const counters: [string, () => CounterStore][] = [
  ['memory', () => new MemoryCounterStore()],
  ['redis', () => new RedisCounterStore(client, `test:${randomUUID()}:`)],
];

describe.each(counters)('CounterStore contract: %s', (_name, create) => {
  it('counts within a window that starts with the first increment and reports when it ends', async () => {
    const store = create();
    const now = Date.now();
    const first = await store.increment('user:1', 60_000, now);
    expect(first.count).toBe(1);
    expect(first.resetAt).toBeGreaterThan(now + 59_000);
    expect(first.resetAt).toBeLessThanOrEqual(now + 60_000);
    expect((await store.increment('user:1', 60_000, now + 10)).count).toBe(2);
    expect((await store.increment('user:2', 60_000, now + 10)).count).toBe(1);
    expect(await store.peek('user:1', now + 20)).toBe(2);
    expect(await store.peek('user:3', now + 20)).toBe(0);
  });

  it('reserves amounts within a budget, refuses what would pass it, and gives back what was not used', async () => {
    const store = create();
    const now = Date.now();
    const first = await store.reserve('audio:1', 40, 100, 60_000, now);
    expect(first).toMatchObject({ reserved: true, total: 40 });
    expect(first.resetAt).toBeGreaterThan(now + 59_000);
    expect(first.resetAt).toBeLessThanOrEqual(now + 60_000);
    expect(await store.reserve('audio:1', 60, 100, 60_000, now + 1)).toMatchObject({ reserved: true, total: 100 });
    const refused = await store.reserve('audio:1', 1, 100, 60_000, now + 2);
    expect(refused).toMatchObject({ reserved: false, total: 100 });
    // The same window (Redis counts its remaining time on its own clock: a few ms either way).
    expect(Math.abs(refused.resetAt - first.resetAt)).toBeLessThan(50);
    await store.release('audio:1', 60, now + 3);
    expect(await store.peek('audio:1', now + 4)).toBe(40);
    expect(await store.reserve('audio:1', 50, 100, 60_000, now + 5)).toMatchObject({ reserved: true, total: 90 });
    // Never below zero; a counter that is not there is left alone.
    await store.release('audio:1', 500, now + 6);
    expect(await store.peek('audio:1', now + 7)).toBe(0);
    await store.release('audio:2', 5, now + 7);
    expect(await store.peek('audio:2', now + 8)).toBe(0);
    // More than the whole budget at once is refused and creates nothing.
    const tooMuch = await store.reserve('audio:3', 101, 100, 60_000, now);
    expect(tooMuch).toMatchObject({ reserved: false, total: 0 });
    expect(tooMuch.resetAt).toBeGreaterThan(now + 59_000);
    expect(await store.peek('audio:3', now + 1)).toBe(0);
  });

  it('never lets reservations made at once pass the budget together', async () => {
    const store = create();
    const now = Date.now();
    const results = await Promise.all(Array.from({ length: 25 }, () => store.reserve('media:1', 1, 10, 60_000, now)));
    expect(results.filter((result) => result.reserved)).toHaveLength(10);
    expect(await store.peek('media:1', now + 1)).toBe(10);
  });
});

describe('MemoryCounterStore', () => {
  it('starts a new budget window once the old one ended', async () => {
    const store = new MemoryCounterStore();
    const now = Date.now();
    await store.reserve('media:1', 10, 10, 1_000, now);
    expect(await store.reserve('media:1', 1, 10, 1_000, now + 999)).toMatchObject({ reserved: false, total: 10 });
    expect(await store.reserve('media:1', 1, 10, 1_000, now + 1_000)).toMatchObject({
      reserved: true,
      total: 1,
      resetAt: now + 2_000,
    });
    // A release after the window ended gives nothing back to the new one.
    await store.release('media:1', 1, now + 2_001);
    expect(await store.peek('media:1', now + 2_001)).toBe(0);
  });
});

describe('RedisCounterStore', () => {
  it('starts a new window once the old one expired', async () => {
    const store = new RedisCounterStore(client, `test:${randomUUID()}:`);
    await store.increment('k', 30, Date.now());
    await store.increment('k', 30, Date.now());
    await new Promise((resolve) => setTimeout(resolve, 60)); // Redis expires keys on its own clock
    expect((await store.increment('k', 30, Date.now())).count).toBe(1);
  });
});

describe.each(histories)('HistoryStore exchange ids: %s', (_name, create) => {
  it('stores an exchange once per id, so an update handled twice adds one copy', async () => {
    const store = create();
    expect(await store.append('erin', turn(1), limits, 'update:7')).toBe(true);
    expect(await store.append('erin', turn(1), limits, 'update:7')).toBe(false);
    expect(await store.append('erin', turn(2), limits, 'update:8')).toBe(true);
    expect(await store.append('erin', turn(3), limits)).toBe(true);
    expect(await store.load('erin')).toEqual([...turn(1), ...turn(2), ...turn(3)]);
    await store.clear('erin');
    expect(await store.append('erin', turn(1), limits, 'update:7')).toBe(true);
  });
});
