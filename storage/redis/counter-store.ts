import type { CounterStore } from '../types';
import { callRedis, type RedisClient } from './client';

/** INCR and PEXPIRE-if-new in one script: a crash between the two can never leave a counter that never expires. */
const INCREMENT_SCRIPT = `
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return { count, ttl }
`;

/**
 * INCRBY only when the total stays within the limit, and PEXPIRE-if-new, in one script: two
 * reservations at once never pass the limit together. Returns { reserved (1/0), total, ttl }; the
 * ttl of a window not started yet is the whole window.
 */
const RESERVE_SCRIPT = `
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local amount = tonumber(ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
if current + amount > tonumber(ARGV[2]) then
  if ttl < 0 then ttl = tonumber(ARGV[3]) end
  return { 0, current, ttl }
end
local total = redis.call('INCRBY', KEYS[1], amount)
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  ttl = tonumber(ARGV[3])
end
return { 1, total, ttl }
`;

/** DECRBY, never below 0, only on a counter whose window is still open (the expiry stays). */
const RELEASE_SCRIPT = `
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current <= 0 then return 0 end
return redis.call('DECRBY', KEYS[1], math.min(current, tonumber(ARGV[1])))
`;

interface CounterCommands {
  switchboardIncrement(numberOfKeys: number, key: string, windowMs: number): Promise<[number, number]>;
  switchboardReserve(
    numberOfKeys: number,
    key: string,
    amount: number,
    limit: number,
    windowMs: number,
  ): Promise<[number, number, number]>;
  switchboardRelease(numberOfKeys: number, key: string, amount: number): Promise<number>;
}

export class RedisCounterStore implements CounterStore {
  private readonly redis: RedisClient & CounterCommands;

  constructor(
    redis: RedisClient,
    private readonly prefix = 'sb:',
  ) {
    redis.defineCommand('switchboardIncrement', { lua: INCREMENT_SCRIPT });
    redis.defineCommand('switchboardReserve', { lua: RESERVE_SCRIPT });
    redis.defineCommand('switchboardRelease', { lua: RELEASE_SCRIPT });
    this.redis = redis as RedisClient & CounterCommands;
  }

  async increment(key: string, windowMs: number, now: number): Promise<{ count: number; resetAt: number }> {
    const [count, ttl] = await callRedis(() =>
      this.redis.switchboardIncrement(1, `${this.prefix}counter:${key}`, Math.max(1, Math.round(windowMs))),
    );
    return { count: Number(count), resetAt: now + Number(ttl) };
  }

  async reserve(
    key: string,
    amount: number,
    limit: number,
    windowMs: number,
    now: number,
  ): Promise<{ reserved: boolean; total: number; resetAt: number }> {
    const [reserved, total, ttl] = await callRedis(() =>
      this.redis.switchboardReserve(
        1,
        `${this.prefix}counter:${key}`,
        Math.max(0, Math.round(amount)),
        Math.max(0, Math.floor(limit)),
        Math.max(1, Math.round(windowMs)),
      ),
    );
    return { reserved: Number(reserved) === 1, total: Number(total), resetAt: now + Number(ttl) };
  }

  async release(key: string, amount: number): Promise<void> {
    await callRedis(() =>
      this.redis.switchboardRelease(1, `${this.prefix}counter:${key}`, Math.max(0, Math.round(amount))),
    );
  }

  async peek(key: string): Promise<number> {
    const value = await callRedis(() => this.redis.get(`${this.prefix}counter:${key}`));
    return value === null ? 0 : Number(value);
  }
}
