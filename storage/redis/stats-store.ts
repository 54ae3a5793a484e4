import {
  countAttempt,
  countUserRequest,
  type DayCounters,
  emptyDayCounters,
  FAILURE_OUTCOMES,
  LATENCY_SAMPLES,
  type MutableCounters,
} from '../stats-counters';
import type { AttemptRecord, CounterSet, StatsSnapshot, StatsStore } from '../../providers/ports';
import { callRedis, execPipeline, type RedisClient } from './client';
import { WriteBatcher } from './write-batcher';

const RETENTION_SECONDS = 8 * 24 * 3600;

/**
 * Writes a batch of statistics: every attempt and user request recorded during one window (see
 * `RedisStatsStore`), summed per provider, per key and per user. One script rather
 * than a command per answer: under load, one call carries the counts of many answers.
 *
 * KEYS: per group (a provider or a key) its counters hash, its latency list and the day's set of
 * names; then the day's users sorted set. ARGV: retention in seconds, latency samples kept, the
 * number of groups; per group its name, requests, successes, fallbacks, input and output tokens, hedges,
 * transcriptions, audio seconds, media requests,
 * the number of failure kinds then (kind, count) pairs, the number of latencies then the latencies
 * oldest first; then the number of users and (user id, requests) pairs.
 */
const RECORD_BATCH_SCRIPT = `
local retention, samples, groups = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local at = 4
for g = 0, groups - 1 do
  local counters, latencies, names = KEYS[g * 3 + 1], KEYS[g * 3 + 2], KEYS[g * 3 + 3]
  local name = ARGV[at]
  local fields = { 'requests', 'successes', 'fallbacks', 'in', 'out', 'hedges', 'stt', 'audio_s', 'media' }
  for i = 1, 9 do
    local value = tonumber(ARGV[at + i])
    if value ~= 0 then redis.call('HINCRBY', counters, fields[i], value) end
  end
  at = at + 10
  local failureKinds = tonumber(ARGV[at])
  for i = 1, failureKinds do
    redis.call('HINCRBY', counters, 'fail:' .. ARGV[at + i * 2 - 1], ARGV[at + i * 2])
  end
  at = at + 1 + failureKinds * 2
  local latencyCount = tonumber(ARGV[at])
  if latencyCount > 0 then
    redis.call('LPUSH', latencies, unpack(ARGV, at + 1, at + latencyCount))
    redis.call('LTRIM', latencies, 0, samples - 1)
    redis.call('EXPIRE', latencies, retention)
  end
  at = at + 1 + latencyCount
  redis.call('EXPIRE', counters, retention)
  redis.call('SADD', names, name)
  redis.call('EXPIRE', names, retention)
end
local users = tonumber(ARGV[at])
for i = 1, users do
  redis.call('ZINCRBY', KEYS[groups * 3 + 1], ARGV[at + i * 2], ARGV[at + i * 2 - 1])
end
if users > 0 then redis.call('EXPIRE', KEYS[groups * 3 + 1], retention) end
return 1
`;

interface StatsCommands {
  switchboardRecordStats(numberOfKeys: number, ...args: (string | number)[]): Promise<number>;
}

/** A record waiting to be written. */
type StatsRecord =
  | { readonly type: 'attempt'; readonly record: AttemptRecord; readonly day: string }
  | { readonly type: 'user'; readonly userId: string; readonly day: string };

/** A batch of records summed per day, as the in-memory store counts them. */
function sumByDay(records: readonly StatsRecord[]): Map<string, DayCounters> {
  const days = new Map<string, DayCounters>();
  for (const item of records) {
    let day = days.get(item.day);
    if (day === undefined) {
      day = emptyDayCounters();
      days.set(item.day, day);
    }
    if (item.type === 'user') countUserRequest(day, item.userId);
    else countAttempt(day, item.record);
  }
  return days;
}

export interface RedisStatsOptions {
  /** Longest a record waits to be written (0: as soon as the event loop gets to it). */
  readonly flushAfterMs?: number;
  /** A batch this big is written at once, without waiting for the window to end. */
  readonly maxBatchRecords?: number;
}

/**
 * Stats shared by every bot process: per day, a hash of counters and a capped list of latencies
 * per provider and per key, and a sorted set of requests per user. `/stats` in any process shows
 * the totals of all of them.
 *
 * Records are not written one by one: those of a short window (`flushAfterMs`, 25 ms by default,
 * or sooner once `maxBatchRecords` are waiting) are summed and written by one script (see
 * WriteBatcher), so a busy process sends one command for dozens of answers rather than two per
 * answer, and another process's `/stats` sees them at most that much later. A failed write fails
 * every record of its batch (the fallback store then keeps them locally). `read` writes what is
 * pending first, and so does `flush`, which shutdown calls.
 */
export class RedisStatsStore implements StatsStore {
  private readonly redis: RedisClient & StatsCommands;
  private readonly batcher: WriteBatcher<StatsRecord>;

  constructor(
    redis: RedisClient,
    private readonly prefix = 'sb:',
    options: RedisStatsOptions = {},
  ) {
    redis.defineCommand('switchboardRecordStats', { lua: RECORD_BATCH_SCRIPT });
    this.redis = redis as RedisClient & StatsCommands;
    this.batcher = new WriteBatcher(
      async (records) => {
        await Promise.all([...sumByDay(records)].map(([day, batch]) => this.write(day, batch)));
      },
      { windowMs: options.flushAfterMs ?? 25, maxItems: options.maxBatchRecords ?? 500 },
    );
  }

  /** One hash tag per day: a day's counters are written by one script, which a Redis Cluster runs only within one slot. */
  private base(day: string): string {
    return `${this.prefix}stats:{${day}}`;
  }

  recordAttempt(record: AttemptRecord, day: string): Promise<void> {
    return this.batcher.add({ type: 'attempt', record, day });
  }

  recordUserRequest(userId: string, day: string): Promise<void> {
    return this.batcher.add({ type: 'user', userId, day });
  }

  /** Writes what is waiting; resolves when every write so far is done, failed or not. */
  flush(): Promise<void> {
    return this.batcher.flush();
  }

  private async write(day: string, batch: DayCounters): Promise<void> {
    const base = this.base(day);
    const keys: string[] = [];
    const args: (string | number)[] = [RETENTION_SECONDS, LATENCY_SAMPLES, batch.providers.size + batch.keys.size];
    for (const [kind, group] of [
      ['p', batch.providers],
      ['k', batch.keys],
    ] as const) {
      for (const [name, counters] of group) {
        keys.push(`${base}:${kind}:${name}`, `${base}:lat:${kind}:${name}`, `${base}:${kind}`);
        args.push(...groupArguments(name, counters));
      }
    }
    keys.push(`${base}:users`);
    args.push(batch.users.size, ...[...batch.users].flat());
    await callRedis(() => this.redis.switchboardRecordStats(keys.length, ...keys, ...args));
  }

  async userRequests(userId: string, day: string): Promise<number> {
    // This process's own latest records first, as `read` does.
    await this.flush();
    const score = await callRedis(() => this.redis.zscore(`${this.base(day)}:users`, userId));
    return score === null ? 0 : Number(score);
  }

  async read(day: string, topUsers = 10): Promise<StatsSnapshot> {
    // This process's own latest records first (a failed write fails those records, not the read).
    await this.flush();
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

/** One group's arguments of RECORD_BATCH_SCRIPT, in its order. */
function groupArguments(name: string, counters: MutableCounters): (string | number)[] {
  const failures = Object.entries(counters.failures);
  // Only the newest samples can stay in the list.
  const latencies = counters.latencies.slice(-LATENCY_SAMPLES);
  return [
    name,
    counters.requests,
    counters.successes,
    counters.fallbacks,
    counters.inputTokens,
    counters.outputTokens,
    counters.hedges,
    counters.transcriptions,
    counters.audioSeconds,
    counters.mediaRequests,
    failures.length,
    ...failures.flatMap(([kind, count]) => [kind, count ?? 0]),
    latencies.length,
    ...latencies.map((latency) => Math.round(latency * 100) / 100),
  ];
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
    hedges: number('hedges'),
    transcriptions: number('stt'),
    audioSeconds: number('audio_s'),
    mediaRequests: number('media'),
    failures,
    latencies: latencies.map(Number),
  };
}
