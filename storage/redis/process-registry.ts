import type { ProcessBeat, ProcessRegistry } from '../types';
import { callRedis, type RedisClient } from './client';

/**
 * KEYS: the registry hash. ARGV: id, the beat as JSON, its expiry (epoch ms), the hash's TTL (ms).
 * One field per process; the hash itself expires when nobody beats any more.
 */
const BEAT_SCRIPT = `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`;

interface RegistryCommands {
  switchboardProcessBeat(numberOfKeys: number, key: string, id: string, beat: string, ttlMs: number): Promise<number>;
}

interface StoredBeat {
  readonly info: string;
  readonly at: number;
  readonly until: number;
}

/**
 * The processes sharing one Redis, in one hash (one key: Cluster-safe). A field whose beat has
 * expired is dropped when the list is read.
 */
export class RedisProcessRegistry implements ProcessRegistry {
  private readonly redis: RedisClient & RegistryCommands;
  private readonly key: string;

  constructor(redis: RedisClient, prefix = 'sb:') {
    redis.defineCommand('switchboardProcessBeat', { lua: BEAT_SCRIPT });
    this.redis = redis as RedisClient & RegistryCommands;
    this.key = `${prefix}processes`;
  }

  async beat(id: string, info: string, now: number, ttlMs: number): Promise<void> {
    const beat: StoredBeat = { info, at: now, until: now + ttlMs };
    await callRedis(() =>
      this.redis.switchboardProcessBeat(1, this.key, id, JSON.stringify(beat), Math.max(1, Math.round(ttlMs))),
    );
  }

  async list(now: number): Promise<ProcessBeat[]> {
    const fields = await callRedis(() => this.redis.hgetall(this.key));
    const alive: ProcessBeat[] = [];
    const expired: string[] = [];
    for (const [id, value] of Object.entries(fields)) {
      const beat = parseBeat(value);
      if (beat !== undefined && beat.until > now) alive.push({ id, info: beat.info, at: beat.at });
      else expired.push(id);
    }
    if (expired.length > 0) await callRedis(() => this.redis.hdel(this.key, ...expired)).catch(() => undefined);
    return alive.sort((left, right) => (left.id < right.id ? -1 : left.id > right.id ? 1 : 0));
  }

  async remove(id: string): Promise<void> {
    await callRedis(() => this.redis.hdel(this.key, id));
  }
}

function parseBeat(value: string): StoredBeat | undefined {
  try {
    const parsed = JSON.parse(value) as Partial<StoredBeat>;
    if (typeof parsed.info === 'string' && typeof parsed.at === 'number' && typeof parsed.until === 'number')
      return { info: parsed.info, at: parsed.at, until: parsed.until };
  } catch {
    // a field someone else wrote: treated as expired
  }
  return undefined;
}
