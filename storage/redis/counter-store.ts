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

interface CounterCommands {
  switchboardIncrement(numberOfKeys: number, key: string, windowMs: number): Promise<[number, number]>;
}

export class RedisCounterStore implements CounterStore {
  private readonly redis: RedisClient & CounterCommands;

  constructor(
    redis: RedisClient,
    private readonly prefix = 'sb:',
  ) {
    redis.defineCommand('switchboardIncrement', { lua: INCREMENT_SCRIPT });
    this.redis = redis as RedisClient & CounterCommands;
  }

  async increment(key: string, windowMs: number, now: number): Promise<{ count: number; resetAt: number }> {
    const [count, ttl] = await callRedis(() =>
      this.redis.switchboardIncrement(1, `${this.prefix}counter:${key}`, Math.max(1, Math.round(windowMs))),
    );
    return { count: Number(count), resetAt: now + Number(ttl) };
  }

  async peek(key: string): Promise<number> {
    const value = await callRedis(() => this.redis.get(`${this.prefix}counter:${key}`));
    return value === null ? 0 : Number(value);
  }
}
