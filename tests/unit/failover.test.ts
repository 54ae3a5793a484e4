import { describe, expect, it } from '@jest/globals';
import { Failover } from '../../storage/fallback';
import { StorageUnavailableError } from '../../storage/types';

describe('Failover', () => {
  function setup() {
    let now = 0;
    const changes: boolean[] = [];
    const failover = new Failover('test', ({ degraded }) => changes.push(degraded), 1000, () => now);
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
