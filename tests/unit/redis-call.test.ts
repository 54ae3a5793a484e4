import { describe, expect, it } from '@jest/globals';
import { callRedis } from '../../storage/redis/client';
import { isStorageUnavailable } from '../../storage/types';

const reply = (message: string): Error => Object.assign(new Error(message), { name: 'ReplyError' });

async function outcome(error: Error): Promise<unknown> {
  return callRedis(() => Promise.reject(error)).catch((caught: unknown) => caught);
}

describe('callRedis', () => {
  it('takes the replies of a failover under way for an unavailable Redis', async () => {
    for (const message of [
      "READONLY You can't write against a read only replica.",
      'LOADING Redis is loading the dataset in memory',
      'MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to no',
      'CLUSTERDOWN The cluster is down',
      'TRYAGAIN Multiple keys request during rehashing of slot',
      'MOVED 3999 127.0.0.1:6381',
    ]) {
      expect(isStorageUnavailable(await outcome(reply(message)))).toBe(true);
    }
  });

  it('takes a lost connection for an unavailable Redis', async () => {
    expect(isStorageUnavailable(await outcome(new Error('Connection is closed.')))).toBe(true);
  });

  it('tells a call Redis cannot have applied (refused, or never written) from one it may have', async () => {
    const notApplied = async (error: Error): Promise<unknown> =>
      ((await outcome(error)) as { notApplied?: unknown }).notApplied;
    expect(await notApplied(reply("READONLY You can't write against a read only replica."))).toBe(true);
    expect(await notApplied(new Error("Stream isn't writeable and enableOfflineQueue options is false"))).toBe(true);
    // Under way when the connection went, or timed out: Redis may have run it.
    expect(await notApplied(new Error('Connection is closed.'))).toBe(false);
    expect(await notApplied(new Error('Command timed out'))).toBe(false);
  });

  it('lets any other reply through as it is: a bug to see, not an outage to hide', async () => {
    const bug = reply('ERR user_script:1: Script attempted to access nonexistent global variable');
    expect(await outcome(bug)).toBe(bug);
    const wrongType = reply('WRONGTYPE Operation against a key holding the wrong kind of value');
    expect(await outcome(wrongType)).toBe(wrongType);
  });
});
