import type { Lease } from '../types';
import { callRedis, type RedisClient } from './client';

/** KEYS: the lease. ARGV: holder, TTL in ms. Takes a free lease or extends one's own; 1 when held. */
const ACQUIRE_SCRIPT = `
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
`;

/** KEYS: the lease. ARGV: holder. Deletes the lease only if the holder holds it. */
const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
`;

interface LeaseCommands {
  switchboardAcquireLease(numberOfKeys: number, key: string, holder: string, ttlMs: number): Promise<number>;
  switchboardReleaseLease(numberOfKeys: number, key: string, holder: string): Promise<number>;
}

/** A lease in one Redis key holding its holder's name, with a TTL (SET … PX, checked in a script). */
export class RedisLease implements Lease {
  private readonly redis: RedisClient & LeaseCommands;

  constructor(
    redis: RedisClient,
    private readonly key: string,
  ) {
    redis.defineCommand('switchboardAcquireLease', { lua: ACQUIRE_SCRIPT });
    redis.defineCommand('switchboardReleaseLease', { lua: RELEASE_SCRIPT });
    this.redis = redis as RedisClient & LeaseCommands;
  }

  async acquire(holder: string, ttlMs: number): Promise<boolean> {
    return (await callRedis(() => this.redis.switchboardAcquireLease(1, this.key, holder, Math.round(ttlMs)))) === 1;
  }

  async release(holder: string): Promise<void> {
    await callRedis(() => this.redis.switchboardReleaseLease(1, this.key, holder));
  }
}
