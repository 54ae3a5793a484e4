import {
  countAttempt,
  countUserRequest,
  type DayCounters,
  emptyDayCounters,
  type MutableCounters,
  snapshotCounters,
} from '../stats-counters';
import type { AttemptRecord, CounterSet, StatsSnapshot, StatsStore } from '../../providers/ports';

/** Stats of one process, for the days it has seen (only the last few are kept). */
export class MemoryStatsStore implements StatsStore {
  private readonly days = new Map<string, DayCounters>();

  async recordAttempt(record: AttemptRecord, day: string): Promise<void> {
    countAttempt(this.dayStats(day), record);
  }

  async recordUserRequest(userId: string, day: string): Promise<void> {
    countUserRequest(this.dayStats(day), userId);
  }

  async userRequests(userId: string, day: string): Promise<number> {
    return this.days.get(day)?.users.get(userId) ?? 0;
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

  private dayStats(day: string): DayCounters {
    let stats = this.days.get(day);
    if (stats === undefined) {
      stats = emptyDayCounters();
      this.days.set(day, stats);
      // Keep a week: memory stays flat however long the process runs.
      while (this.days.size > 7) this.days.delete(this.days.keys().next().value as string);
    }
    return stats;
  }
}

function snapshotAll(group: Map<string, MutableCounters> | undefined): Record<string, CounterSet> {
  const result: Record<string, CounterSet> = {};
  for (const [name, counters] of group ?? []) result[name] = snapshotCounters(counters);
  return result;
}
