import { addAttempt, emptyCounters, FAILURE_OUTCOMES, LATENCY_SAMPLES, type MutableCounters } from '../stats-counters';
import type { AttemptRecord, CounterSet, StatsSnapshot, StatsStore } from '../types';
import { callRedis, execPipeline, type RedisClient } from './client';

const RETENTION_SECONDS = 8 * 24 * 3600;

/**
 * Writes a batch of statistics: every attempt and user request recorded during one turn of the
 * event loop, summed per provider, per key and per user (see `RedisStatsStore`). One script rather
 * than a command per answer: under load, one call carries the counts of many answers.
 *
 * KEYS: per group (a provider or a key) its counters hash, its latency list and the day's set of
 * names; then the day's users sorted set. ARGV: retention in seconds, latency samples kept, the
 * number of groups; per group its name, requests, successes, fallbacks, input and output tokens,
 * the number of failure kinds then (kind, count) pairs, the number of latencies then the latencies
 * oldest first; then the number of users and (user id, requests) pairs.
 */
const RECORD_BATCH_SCRIPT = `
local retention, samples, groups = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local at = 4
for g = 0, groups - 1 do
  local counters, latencies, names = KEYS[g * 3 + 1], KEYS[g * 3 + 2], KEYS[g * 3 + 3]
  local name = ARGV[at]
  local fields = { 'requests', 'successes', 'fallbacks', 'in', 'out' }
  for i = 1, 5 do
    local value = tonumber(ARGV[at + i])
    if value ~= 0 then redis.call('HINCRBY', counters, fields[i], value) end
  end
  at = at + 6
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

/** What one day's batch holds: counters per provider and per key, requests per user. */
interface DayBatch {
  readonly groups: Map<string, { readonly kind: 'p' | 'k'; readonly name: string; readonly counters: MutableCounters }>;
  readonly users: Map<string, number>;
}

/** The records of one window, and the promise their callers wait on. */
class PendingBatch {
  readonly days = new Map<string, DayBatch>();
  /** Records added so far. */
  size = 0;
  readonly settled: Promise<void>;
  resolve!: () => void;
  reject!: (error: unknown) => void;

  constructor() {
    this.settled = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  day(day: string): DayBatch {
    let batch = this.days.get(day);
    if (batch === undefined) {
      batch = { groups: new Map(), users: new Map() };
      this.days.set(day, batch);
    }
    return batch;
  }

  addAttempt(record: AttemptRecord, day: string): void {
    this.size++;
    const batch = this.day(day);
    for (const [kind, name] of [
      ['p', record.provider],
      ['k', record.keyId],
    ] as const) {
      const id = `${kind}:${name}`;
      let group = batch.groups.get(id);
      if (group === undefined) {
        group = { kind, name, counters: emptyCounters() };
        batch.groups.set(id, group);
      }
      addAttempt(group.counters, record);
    }
  }

  addUser(userId: string, day: string): void {
    this.size++;
    const users = this.day(day).users;
    users.set(userId, (users.get(userId) ?? 0) + 1);
  }
}

/**
 * Stats shared by every bot process: per day, a hash of counters and a capped list of latencies
 * per provider and per key, and a sorted set of requests per user. `/stats` in any process shows
 * the totals of all of them.
 *
 * Records are not written one by one: those of a short window (`flushAfterMs`, 25 ms by default,
 * or sooner once `maxBatchRecords` are waiting) are summed and written by one script, so a busy
 * process sends one command for dozens of answers rather than two per answer, and another
 * process's `/stats` sees them at most that much later. Each record's promise settles with the
 * write of its batch: a failed write fails every record in it (the fallback store then keeps them
 * locally). `read` writes what is pending first, and so does `flush`, which shutdown calls.
 */
export interface RedisStatsOptions {
  /** Longest a record waits to be written (0: at the end of the current turn of the event loop). */
  readonly flushAfterMs?: number;
  /** A batch this big is written at once, without waiting for the window to end. */
  readonly maxBatchRecords?: number;
}

export class RedisStatsStore implements StatsStore {
  private readonly redis: RedisClient & StatsCommands;
  private readonly flushAfterMs: number;
  private readonly maxBatchRecords: number;
  private pending: PendingBatch | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  /** The write in progress, if any (a read waits for it too). */
  private writing: Promise<void> = Promise.resolve();

  constructor(
    redis: RedisClient,
    private readonly prefix = 'sb:',
    options: RedisStatsOptions = {},
  ) {
    redis.defineCommand('switchboardRecordStats', { lua: RECORD_BATCH_SCRIPT });
    this.redis = redis as RedisClient & StatsCommands;
    this.flushAfterMs = options.flushAfterMs ?? 25;
    this.maxBatchRecords = options.maxBatchRecords ?? 500;
  }

  /** One hash tag per day: a day's counters are written by one script, which a Redis Cluster runs only within one slot. */
  private base(day: string): string {
    return `${this.prefix}stats:{${day}}`;
  }

  recordAttempt(record: AttemptRecord, day: string): Promise<void> {
    const batch = this.batch();
    batch.addAttempt(record, day);
    this.flushIfFull(batch);
    return batch.settled;
  }

  recordUserRequest(userId: string, day: string): Promise<void> {
    const batch = this.batch();
    batch.addUser(userId, day);
    this.flushIfFull(batch);
    return batch.settled;
  }

  /** The batch of the current window, written when the window ends. */
  private batch(): PendingBatch {
    if (this.pending === undefined) {
      this.pending = new PendingBatch();
      // Not keeping the process alive for it: shutdown writes what is pending (`flush`).
      this.flushTimer = setTimeout(() => void this.flush(), this.flushAfterMs);
      this.flushTimer.unref();
    }
    return this.pending;
  }

  private flushIfFull(batch: PendingBatch): void {
    if (batch.size >= this.maxBatchRecords) void this.flush();
  }

  /**
   * Writes the pending batch (one script per day it holds, nearly always one); resolves when every
   * write so far is done, failed or not (a failed write rejects its records' own promises).
   */
  flush(): Promise<void> {
    const batch = this.pending;
    if (batch === undefined) return this.writing;
    this.pending = undefined;
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const previous = this.writing;
    const write = Promise.all([...batch.days].map(([day, dayBatch]) => this.write(day, dayBatch))).then(
      () => batch.resolve(),
      (error: unknown) => batch.reject(error),
    );
    this.writing = Promise.all([previous, write]).then(() => undefined);
    return this.writing;
  }

  private async write(day: string, batch: DayBatch): Promise<void> {
    const base = this.base(day);
    const keys: string[] = [];
    const args: (string | number)[] = [RETENTION_SECONDS, LATENCY_SAMPLES, batch.groups.size];
    for (const { kind, name, counters } of batch.groups.values()) {
      keys.push(`${base}:${kind}:${name}`, `${base}:lat:${kind}:${name}`, `${base}:${kind}`);
      const failures = Object.entries(counters.failures);
      // Only the newest samples can stay in the list.
      const latencies = counters.latencies.slice(-LATENCY_SAMPLES);
      args.push(
        name,
        counters.requests,
        counters.successes,
        counters.fallbacks,
        counters.inputTokens,
        counters.outputTokens,
        failures.length,
        ...failures.flatMap(([kind, count]) => [kind, count ?? 0]),
        latencies.length,
        ...latencies.map((latency) => Math.round(latency * 100) / 100),
      );
    }
    keys.push(`${base}:users`);
    args.push(batch.users.size, ...[...batch.users].flat());
    await callRedis(() => this.redis.switchboardRecordStats(keys.length, ...keys, ...args));
  }

  async read(day: string, topUsers = 10): Promise<StatsSnapshot> {
    // This process's own latest records first (a failed write is the caller's to fall back on).
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
