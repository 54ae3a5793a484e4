import { randomUUID } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { CachedSettingsStore } from '../../../storage/cached-settings-store';
import { MemoryBroadcast } from '../../../storage/memory/broadcast';
import { MemorySettingsStore } from '../../../storage/memory/settings-store';
import { RedisBroadcast } from '../../../storage/redis/broadcast';
import { RedisSettingsStore } from '../../../storage/redis/settings-store';
import type { Broadcast, SettingsFields, SettingsStore } from '../../../storage/types';
import { redisForSuite } from '../../helpers/redis-suite';

/** A settings store that counts its reads and can hold the next one, or fail. */
class ProbeStore implements SettingsStore {
  reads = 0;
  failing = false;
  /** The next read, held until released; told when it is waiting. */
  private gate: Promise<void> | undefined;
  private onHeld: (() => void) | undefined;

  constructor(private readonly inner: SettingsStore = new MemorySettingsStore()) {}

  /** The next read waits for `release()`; `reached` resolves once it is waiting. */
  holdNextRead(): { reached: Promise<void>; release: () => void } {
    let release!: () => void;
    this.gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const reached = new Promise<void>((resolve) => {
      this.onHeld = resolve;
    });
    return { reached, release: () => release() };
  }

  async load(userId: string): Promise<SettingsFields> {
    this.reads += 1;
    if (this.failing) throw new Error('store unavailable');
    const fields = await this.inner.load(userId);
    const gate = this.gate;
    if (gate !== undefined) {
      this.gate = undefined;
      this.onHeld?.();
      await gate;
    }
    return fields;
  }

  update(userId: string, changes: Readonly<Record<string, string | null>>): Promise<SettingsFields> {
    return this.inner.update(userId, changes);
  }

  clear(userId: string): Promise<void> {
    return this.inner.clear(userId);
  }
}

/** Lets queued broadcast deliveries (microtasks in memory) run. */
const delivered = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('CachedSettingsStore (one process)', () => {
  it('answers repeated reads from the cache until the entry expires', async () => {
    let now = 1_000;
    const store = new ProbeStore();
    await store.update('7', { persona: 'teacher' });
    const cache = new CachedSettingsStore(store, new MemoryBroadcast(), {
      ttlMs: 60_000,
      maxEntries: 10,
      now: () => now,
    });
    expect(await cache.load('7')).toEqual({ persona: 'teacher' });
    expect(await cache.load('7')).toEqual({ persona: 'teacher' });
    expect(store.reads).toBe(1);
    now += 60_001;
    expect(await cache.load('7')).toEqual({ persona: 'teacher' });
    expect(store.reads).toBe(2);
  });

  it('reads a user’s settings again after this process changed or cleared them', async () => {
    const store = new ProbeStore();
    const cache = new CachedSettingsStore(store, new MemoryBroadcast(), { ttlMs: 60_000, maxEntries: 10 });
    expect(await cache.load('7')).toEqual({});
    expect(await cache.update('7', { prompt: 'پاسخ کوتاه بده ۱۲۳' })).toEqual({ prompt: 'پاسخ کوتاه بده ۱۲۳' });
    expect(await cache.load('7')).toEqual({ prompt: 'پاسخ کوتاه بده ۱۲۳' });
    await cache.clear('7');
    expect(await cache.load('7')).toEqual({});
  });

  it('does not keep a read that was under way when an entry was dropped', async () => {
    const store = new ProbeStore();
    const cache = new CachedSettingsStore(store, new MemoryBroadcast(), { ttlMs: 60_000, maxEntries: 10 });
    const held = store.holdNextRead();
    const reading = cache.load('7');
    await held.reached;
    // The user changes their settings while the read is on its way back with the old ones.
    await cache.update('7', { persona: 'code' });
    held.release();
    expect(await reading).toEqual({});
    expect(await cache.load('7')).toEqual({ persona: 'code' });
  });

  it('keeps at most maxEntries users, dropping the one read longest ago', async () => {
    const store = new ProbeStore();
    const cache = new CachedSettingsStore(store, new MemoryBroadcast(), { ttlMs: 60_000, maxEntries: 2 });
    for (const user of ['1', '2', '3']) await cache.load(user);
    expect(cache.size).toBe(2);
    store.reads = 0;
    await cache.load('3');
    await cache.load('2');
    expect(store.reads).toBe(0);
    await cache.load('1');
    expect(store.reads).toBe(1);
  });

  it('serves what it has while the store fails, and fails like the store for what it has not', async () => {
    const store = new ProbeStore();
    await store.update('7', { persona: 'concise' });
    const cache = new CachedSettingsStore(store, new MemoryBroadcast(), { ttlMs: 60_000, maxEntries: 10 });
    await cache.load('7');
    store.failing = true;
    expect(await cache.load('7')).toEqual({ persona: 'concise' });
    await expect(cache.load('8')).rejects.toThrow('store unavailable');
  });

  it('hands out entries that cannot be changed in place', async () => {
    const cache = new CachedSettingsStore(new ProbeStore(), new MemoryBroadcast(), { ttlMs: 60_000, maxEntries: 10 });
    const fields = (await cache.load('7')) as Record<string, string>;
    expect(() => {
      fields.persona = 'code';
    }).toThrow(TypeError);
    expect(await cache.load('7')).toEqual({});
  });
});

describe('CachedSettingsStore (two processes)', () => {
  it('a change made through one process is read by the other at once (memory broadcast)', async () => {
    const shared = new MemorySettingsStore();
    const broadcast = new MemoryBroadcast();
    const here = new CachedSettingsStore(new ProbeStore(shared), broadcast, { ttlMs: 60_000, maxEntries: 10 });
    const there = new CachedSettingsStore(new ProbeStore(shared), broadcast, { ttlMs: 60_000, maxEntries: 10 });
    expect(await there.load('7')).toEqual({});
    await here.update('7', { language: 'fa' });
    await delivered();
    expect(await there.load('7')).toEqual({ language: 'fa' });
  });

  describe('on a real Redis', () => {
    const redis = redisForSuite();

    /** One process's settings: its own connections, the store and the broadcast on one channel. */
    async function processOn(channel: string): Promise<{ cache: CachedSettingsStore; broadcast: Broadcast }> {
      const { main, subscriber } = await redis.processClients();
      const broadcast = new RedisBroadcast(main, subscriber, channel);
      const cache = new CachedSettingsStore(new RedisSettingsStore(main, 'test:'), broadcast, {
        ttlMs: 60_000,
        maxEntries: 100,
      });
      return { cache, broadcast };
    }

    it('a change made through one process is read by the other as soon as the broadcast reaches it', async () => {
      const channel = `test:${randomUUID()}:broadcast`;
      const here = await processOn(channel);
      const there = await processOn(channel);
      // Both subscribed: Redis counts two subscribers on the channel.
      const admin = await redis.client();
      for (let tries = 0; ; tries++) {
        const [, count] = (await admin.pubsub('NUMSUB', channel)) as [string, number];
        if (Number(count) === 2) break;
        if (tries > 200) throw new Error('the two processes did not subscribe');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(await there.cache.load('42')).toEqual({});
      const heard = new Promise<string>((resolve) => there.broadcast.subscribe(resolve));
      await here.cache.update('42', { persona: 'translator', prompt: 'به فارسی ۱۲۳' });
      expect(await heard).toBe('settings-changed:42');
      expect(await there.cache.load('42')).toEqual({ persona: 'translator', prompt: 'به فارسی ۱۲۳' });
    });
  });
});
