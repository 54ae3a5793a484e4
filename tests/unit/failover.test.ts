import { describe, expect, it } from '@jest/globals';
import { Failover, GuardedHistoryStore } from '../../storage/fallback';
import { type HistoryStore, isStorageUnavailable, StorageUnavailableError } from '../../storage/types';

describe('Failover', () => {
  function setup() {
    let now = 0;
    const changes: boolean[] = [];
    const failover = new Failover(
      'test',
      ({ degraded }) => changes.push(degraded),
      1000,
      () => now,
    );
    let primaryCalls = 0;
    let primary: () => Promise<string> = async () => 'primary';
    const run = () =>
      failover.run(
        () => {
          primaryCalls += 1;
          return primary();
        },
        async () => 'local',
      );
    return {
      run,
      changes,
      calls: () => primaryCalls,
      advance: (ms: number) => {
        now += ms;
      },
      setPrimary: (next: () => Promise<string>) => {
        primary = next;
      },
    };
  }

  it('asks the primary again on the next call after a refusal, and reports each switch once', async () => {
    const world = setup();
    world.setPrimary(async () => {
      throw new StorageUnavailableError('refused');
    });
    expect(await world.run()).toBe('local');
    expect(await world.run()).toBe('local');
    expect(world.calls()).toBe(2);
    world.setPrimary(async () => 'primary');
    expect(await world.run()).toBe('primary');
    expect(world.changes).toEqual([true, false]);
  });

  it('lets a primary that failed slowly (a hang) rest before asking it again', async () => {
    const world = setup();
    world.setPrimary(async () => {
      world.advance(2000); // the command timeout
      throw new StorageUnavailableError('timed out');
    });
    expect(await world.run()).toBe('local');
    expect(await world.run()).toBe('local');
    expect(world.calls()).toBe(1);
    world.advance(1000);
    world.setPrimary(async () => 'primary');
    expect(await world.run()).toBe('primary');
  });

  it('passes other errors through', async () => {
    const world = setup();
    world.setPrimary(async () => {
      throw new Error('a bug in a script');
    });
    await expect(world.run()).rejects.toThrow('a bug in a script');
  });
});

describe('GuardedHistoryStore', () => {
  /** A history store whose calls the test makes refuse, hang (advancing the fake clock) or answer. */
  function setup() {
    let now = 0;
    let behaviour: 'answer' | 'refuse' | 'hang' = 'answer';
    let calls = 0;
    const changes: boolean[] = [];
    const act = async <T>(value: T): Promise<T> => {
      calls += 1;
      if (behaviour === 'refuse') throw new StorageUnavailableError('Redis is unavailable: connection refused');
      if (behaviour === 'hang') {
        now += 2000; // the command timeout
        throw new StorageUnavailableError('Redis is unavailable: Command timed out');
      }
      return value;
    };
    const primary: HistoryStore = {
      load: () => act([{ role: 'user' as const, content: 'سلام' }]),
      append: () => act(true),
      replaceLast: () => act(true),
      clear: () => act(undefined),
    };
    const store = new GuardedHistoryStore(
      primary,
      new Failover(
        'history',
        ({ degraded }) => changes.push(degraded),
        1000,
        () => now,
      ),
    );
    return {
      store,
      changes,
      calls: () => calls,
      set: (next: typeof behaviour) => {
        behaviour = next;
      },
      advance: (ms: number) => {
        now += ms;
      },
    };
  }
  const limits = { maxMessages: 10, ttlSeconds: 60 };

  it('passes calls through while Redis answers', async () => {
    const world = setup();
    expect(await world.store.load('c')).toEqual([{ role: 'user', content: 'سلام' }]);
    expect(await world.store.append('c', [], limits)).toBe(true);
    await world.store.clear('c');
    expect(world.calls()).toBe(3);
    expect(world.changes).toEqual([]);
  });

  it('fails each call at once with Redis’s own error while it refuses, and resumes on the next call', async () => {
    const world = setup();
    world.set('refuse');
    await expect(world.store.load('c')).rejects.toThrow('connection refused');
    await expect(world.store.append('c', [], limits)).rejects.toThrow('connection refused');
    expect(world.calls()).toBe(2);
    world.set('answer');
    expect(await world.store.load('c')).toHaveLength(1);
    expect(world.changes).toEqual([true, false]);
  });

  it('after a call that hung, fails the calls of the next second without asking Redis, then asks again', async () => {
    const world = setup();
    world.set('hang');
    await expect(world.store.load('c')).rejects.toThrow('timed out');
    const error = await world.store.append('c', [], limits).catch((caught: unknown) => caught);
    expect(isStorageUnavailable(error)).toBe(true);
    await expect(world.store.load('c')).rejects.toThrow('did not answer in time');
    expect(world.calls()).toBe(1);
    world.advance(1000);
    world.set('answer');
    expect(await world.store.load('c')).toHaveLength(1);
    expect(world.calls()).toBe(2);
    expect(world.changes).toEqual([true, false]);
  });
});
