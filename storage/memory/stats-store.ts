import { addAttempt, emptyCounters, type MutableCounters, snapshotCounters } from '../stats-counters';
import type { AttemptRecord, CounterSet, StatsSnapshot, StatsStore } from '../types';

interface DayStats {
  providers: Map<string, MutableCounters>;
  keys: Map<string, MutableCounters>;
  users: Map<string, number>;
}

/** Stats of one process, for the days it has seen (only the last few are kept). */
export class MemoryStatsStore implements StatsStore {
  private readonly days = new Map<string, DayStats>();

  async recordAttempt(record: AttemptRecord, day: string): Promise<void> {
    const stats = this.dayStats(day);
    addAttempt(countersOf(stats.providers, record.provider), record);
    addAttempt(countersOf(stats.keys, record.keyId), record);
  }

  async recordUserRequest(userId: string, day: string): Promise<void> {
    const users = this.dayStats(day).users;
    users.set(userId, (users.get(userId) ?? 0) + 1);
  }

  async read(day: string, topUsers = 10): Promise<StatsSnapshot> {
    const stats = this.days.get(day);
    const users = [...(stats?.users ?? new Map<string, number>()).entries()]
      .map(([userId, requests]) => ({ userId, requests }))
      .sort((a, b) => b.requests - a.requests || a.userId.localeCompare(b.userId));
    return {
      day,
      providers: snapshotAll(stats?.providers),
      keys: snapshotAll(stats?.keys),
      activeUsers: users.length,
      topUsers: users.slice(0, topUsers),
    };
  }

  private dayStats(day: string): DayStats {
    let stats = this.days.get(day);
    if (stats === undefined) {
      stats = { providers: new Map(), keys: new Map(), users: new Map() };
      this.days.set(day, stats);
      // Keep a week: memory stays flat however long the process runs.
      while (this.days.size > 7) this.days.delete(this.days.keys().next().value as string);
    }
    return stats;
  }
}

function countersOf(group: Map<string, MutableCounters>, name: string): MutableCounters {
  let counters = group.get(name);
  if (counters === undefined) {
    counters = emptyCounters();
    group.set(name, counters);
  }
  return counters;
}

function snapshotAll(group: Map<string, MutableCounters> | undefined): Record<string, CounterSet> {
  const result: Record<string, CounterSet> = {};
  for (const [name, counters] of group ?? []) result[name] = snapshotCounters(counters);
  return result;
}
