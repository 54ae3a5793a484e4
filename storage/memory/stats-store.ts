import { addAttempt, emptyCounters } from '../stats-counters';
import type { AttemptRecord, CounterSet, StatsSnapshot, StatsStore } from '../types';

interface DayStats {
  providers: Record<string, CounterSet>;
  keys: Record<string, CounterSet>;
  users: Map<string, number>;
}

/** Stats of one process, for the days it has seen (only the last few are kept). */
export class MemoryStatsStore implements StatsStore {
  private readonly days = new Map<string, DayStats>();

  async recordAttempt(record: AttemptRecord, day: string): Promise<void> {
    const stats = this.dayStats(day);
    stats.providers[record.provider] = addAttempt(stats.providers[record.provider] ?? emptyCounters(), record);
    stats.keys[record.keyId] = addAttempt(stats.keys[record.keyId] ?? emptyCounters(), record);
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
      providers: { ...stats?.providers },
      keys: { ...stats?.keys },
      activeUsers: users.length,
      topUsers: users.slice(0, topUsers),
    };
  }

  private dayStats(day: string): DayStats {
    let stats = this.days.get(day);
    if (stats === undefined) {
      stats = { providers: {}, keys: {}, users: new Map() };
      this.days.set(day, stats);
      // Keep a week: memory stays flat however long the process runs.
      while (this.days.size > 7) this.days.delete(this.days.keys().next().value as string);
    }
    return stats;
  }
}
