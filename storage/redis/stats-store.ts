import { FAILURE_OUTCOMES, LATENCY_SAMPLES } from '../stats-counters';
import type { AttemptRecord, CounterSet, StatsSnapshot, StatsStore } from '../types';
import { callRedis, execPipeline, type RedisClient } from './client';

const RETENTION_SECONDS = 8 * 24 * 3600;

/**
 * Stats shared by every bot process: per day, a hash of counters and a capped list of latencies
 * per provider and per key, and a sorted set of requests per user. `/stats` in any process shows
 * the totals of all of them.
 */
export class RedisStatsStore implements StatsStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix = 'sb:',
  ) {}

  /** One hash tag per day: a day's counters are written in one MULTI, which a Redis Cluster runs only within one slot. */
  private base(day: string): string {
    return `${this.prefix}stats:{${day}}`;
  }

  async recordAttempt(record: AttemptRecord, day: string): Promise<void> {
    const base = this.base(day);
    const multi = this.redis.multi();
    for (const [kind, name] of [
      ['p', record.provider],
      ['k', record.keyId],
    ] as const) {
      const counters = `${base}:${kind}:${name}`;
      multi.hincrby(counters, 'requests', 1);
      if (record.outcome === 'success') {
        multi.hincrby(counters, 'successes', 1);
        if (record.fallback) multi.hincrby(counters, 'fallbacks', 1);
        const latencies = `${base}:lat:${kind}:${name}`;
        multi.lpush(latencies, Math.round(record.latencyMs * 100) / 100);
        multi.ltrim(latencies, 0, LATENCY_SAMPLES - 1);
        multi.expire(latencies, RETENTION_SECONDS);
      } else {
        multi.hincrby(counters, `fail:${record.outcome}`, 1);
      }
      if (record.inputTokens !== undefined) multi.hincrby(counters, 'in', record.inputTokens);
      if (record.outputTokens !== undefined) multi.hincrby(counters, 'out', record.outputTokens);
      multi.expire(counters, RETENTION_SECONDS);
      multi.sadd(`${base}:${kind}`, name);
      multi.expire(`${base}:${kind}`, RETENTION_SECONDS);
    }
    await callRedis(() => multi.exec());
  }

  async recordUserRequest(userId: string, day: string): Promise<void> {
    const users = `${this.base(day)}:users`;
    await callRedis(() => this.redis.multi().zincrby(users, 1, userId).expire(users, RETENTION_SECONDS).exec());
  }

  async read(day: string, topUsers = 10): Promise<StatsSnapshot> {
    const base = this.base(day);
    const [providerNames, keyIds, activeUsers, top] = await callRedis(() =>
      Promise.all([
        this.redis.smembers(`${base}:p`),
        this.redis.smembers(`${base}:k`),
        this.redis.zcard(`${base}:users`),
        this.redis.zrevrange(`${base}:users`, 0, Math.max(0, topUsers - 1), 'WITHSCORES'),
      ]),
    );
    const readGroup = async (kind: 'p' | 'k', names: string[]): Promise<Record<string, CounterSet>> => {
      const pipeline = this.redis.pipeline();
      for (const name of names) {
        pipeline.hgetall(`${base}:${kind}:${name}`);
        pipeline.lrange(`${base}:lat:${kind}:${name}`, 0, -1);
      }
      const replies = await execPipeline(pipeline);
      const result: Record<string, CounterSet> = {};
      names.forEach((name, index) => {
        const hash = (replies[index * 2]?.[1] ?? {}) as Record<string, string>;
        const latencies = (replies[index * 2 + 1]?.[1] ?? []) as string[];
        result[name] = toCounters(hash, latencies);
      });
      return result;
    };
    const topUsersList: { userId: string; requests: number }[] = [];
    for (let index = 0; index + 1 < top.length; index += 2) {
      topUsersList.push({ userId: top[index]!, requests: Number(top[index + 1]) });
    }
    return {
      day,
      providers: await readGroup('p', providerNames.sort()),
      keys: await readGroup('k', keyIds.sort()),
      activeUsers,
      topUsers: topUsersList,
    };
  }
}

function toCounters(hash: Record<string, string>, latencies: string[]): CounterSet {
  const number = (field: string): number => Number(hash[field] ?? 0);
  const failures: Partial<Record<(typeof FAILURE_OUTCOMES)[number], number>> = {};
  for (const outcome of FAILURE_OUTCOMES) {
    const count = number(`fail:${outcome}`);
    if (count > 0) failures[outcome] = count;
  }
  return {
    requests: number('requests'),
    successes: number('successes'),
    fallbacks: number('fallbacks'),
    inputTokens: number('in'),
    outputTokens: number('out'),
    failures,
    latencies: latencies.map(Number),
  };
}
