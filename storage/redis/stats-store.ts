import { FAILURE_OUTCOMES, LATENCY_SAMPLES } from '../stats-counters';
import type { AttemptRecord, CounterSet, StatsSnapshot, StatsStore } from '../types';
import { callRedis, execPipeline, type RedisClient } from './client';

const RETENTION_SECONDS = 8 * 24 * 3600;

/**
 * KEYS: for the provider, then for the key: its counters hash, its latency list, the day's set of
 * names. ARGV: provider name, key id, outcome, fallback ('1' or '0'), latency, input tokens and
 * output tokens ('' when unknown), retention in seconds, latency samples kept. One script rather
 * than a MULTI of some twenty commands: written on every answer, it is one command to send and
 * to parse, atomic all the same.
 */
const RECORD_ATTEMPT_SCRIPT = `
local outcome, retention, samples = ARGV[3], tonumber(ARGV[8]), tonumber(ARGV[9])
for i = 0, 1 do
  local counters, latencies, names = KEYS[i * 3 + 1], KEYS[i * 3 + 2], KEYS[i * 3 + 3]
  redis.call('HINCRBY', counters, 'requests', 1)
  if outcome == 'success' then
    redis.call('HINCRBY', counters, 'successes', 1)
    if ARGV[4] == '1' then redis.call('HINCRBY', counters, 'fallbacks', 1) end
    redis.call('LPUSH', latencies, ARGV[5])
    redis.call('LTRIM', latencies, 0, samples - 1)
    redis.call('EXPIRE', latencies, retention)
  else
    redis.call('HINCRBY', counters, 'fail:' .. outcome, 1)
  end
  if ARGV[6] ~= '' then redis.call('HINCRBY', counters, 'in', ARGV[6]) end
  if ARGV[7] ~= '' then redis.call('HINCRBY', counters, 'out', ARGV[7]) end
  redis.call('EXPIRE', counters, retention)
  redis.call('SADD', names, ARGV[i + 1])
  redis.call('EXPIRE', names, retention)
end
return 1
`;

/** KEYS: the day's users sorted set. ARGV: user id, retention in seconds. */
const RECORD_USER_SCRIPT = `
redis.call('ZINCRBY', KEYS[1], 1, ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
`;

interface StatsCommands {
  switchboardRecordAttempt(numberOfKeys: number, ...args: (string | number)[]): Promise<number>;
  switchboardRecordUser(numberOfKeys: number, ...args: (string | number)[]): Promise<number>;
}

/**
 * Stats shared by every bot process: per day, a hash of counters and a capped list of latencies
 * per provider and per key, and a sorted set of requests per user. `/stats` in any process shows
 * the totals of all of them.
 */
export class RedisStatsStore implements StatsStore {
  private readonly redis: RedisClient & StatsCommands;

  constructor(
    redis: RedisClient,
    private readonly prefix = 'sb:',
  ) {
    redis.defineCommand('switchboardRecordAttempt', { lua: RECORD_ATTEMPT_SCRIPT });
    redis.defineCommand('switchboardRecordUser', { lua: RECORD_USER_SCRIPT });
    this.redis = redis as RedisClient & StatsCommands;
  }

  /** One hash tag per day: a day's counters are written by one script, which a Redis Cluster runs only within one slot. */
  private base(day: string): string {
    return `${this.prefix}stats:{${day}}`;
  }

  async recordAttempt(record: AttemptRecord, day: string): Promise<void> {
    const base = this.base(day);
    const keys = (kind: 'p' | 'k', name: string): string[] => [
      `${base}:${kind}:${name}`,
      `${base}:lat:${kind}:${name}`,
      `${base}:${kind}`,
    ];
    await callRedis(() =>
      this.redis.switchboardRecordAttempt(
        6,
        ...keys('p', record.provider),
        ...keys('k', record.keyId),
        record.provider,
        record.keyId,
        record.outcome,
        record.fallback ? '1' : '0',
        Math.round(record.latencyMs * 100) / 100,
        record.inputTokens ?? '',
        record.outputTokens ?? '',
        RETENTION_SECONDS,
        LATENCY_SAMPLES,
      ),
    );
  }

  async recordUserRequest(userId: string, day: string): Promise<void> {
    const users = `${this.base(day)}:users`;
    await callRedis(() => this.redis.switchboardRecordUser(1, users, userId, RETENTION_SECONDS));
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
