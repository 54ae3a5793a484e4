import type { SettingsFields, SettingsStore } from '../types';
import { callRedis, type RedisClient, settleHandshake } from './client';

/**
 * KEYS: the user's hash. ARGV: pairs of field and value; an empty value removes the field (the
 * application never stores an empty one). Changes and reads back in one step.
 */
const UPDATE_SCRIPT = `
for i = 1, #ARGV, 2 do
  if ARGV[i + 1] == '' then redis.call('HDEL', KEYS[1], ARGV[i])
  else redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
return redis.call('HGETALL', KEYS[1])
`;

interface SettingsCommands {
  switchboardUpdateSettings(numberOfKeys: number, ...args: string[]): Promise<string[]>;
}

/** Each user's settings in one Redis hash, without expiry. */
export class RedisSettingsStore implements SettingsStore {
  private readonly redis: RedisClient & SettingsCommands;

  constructor(
    redis: RedisClient,
    private readonly prefix = 'sb:',
  ) {
    redis.defineCommand('switchboardUpdateSettings', { lua: UPDATE_SCRIPT });
    this.redis = redis as RedisClient & SettingsCommands;
  }

  private key(userId: string): string {
    return `${this.prefix}settings:{${userId}}`;
  }

  async load(userId: string): Promise<SettingsFields> {
    await settleHandshake(this.redis);
    return { ...(await callRedis(() => this.redis.hgetall(this.key(userId)))) };
  }

  async update(userId: string, changes: Readonly<Record<string, string | null>>): Promise<SettingsFields> {
    const args = Object.entries(changes).flatMap(([name, value]) => [name, value ?? '']);
    await settleHandshake(this.redis);
    const flat = await callRedis(() => this.redis.switchboardUpdateSettings(1, this.key(userId), ...args));
    const fields: Record<string, string> = {};
    for (let index = 0; index + 1 < flat.length; index += 2) fields[flat[index]!] = flat[index + 1]!;
    return fields;
  }

  async clear(userId: string): Promise<void> {
    await callRedis(() => this.redis.del(this.key(userId)));
  }
}
