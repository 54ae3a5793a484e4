import {
  type CounterStore,
  type HistoryStore,
  type SettingsStore,
  isStorageUnavailable,
  StorageUnavailableError,
} from './types';
import type { QuotaStore, StatsStore } from '../providers/ports';

/**
 * Shared state lives in Redis, but a Redis outage must not stop the bot: calls go to the primary
 * store and, when it is unavailable, to a local one, until the primary answers again. The switch
 * is reported once each way, not on every call. A refusal (Redis down) costs nothing, so the
 * primary is asked again on the next call and resumes the moment it is back; but after a slow
 * failure (a Redis that hangs until the command timeout) it rests for `retryAfterMs`, or every
 * call would pay that timeout.
 */
export class Failover {
  private degraded = false;
  private retryAt = 0;

  constructor(
    private readonly what: string,
    private readonly onChange?: (state: { degraded: boolean; what: string; error?: unknown }) => void,
    private readonly retryAfterMs = 1000,
    private readonly now: () => number = Date.now,
    /** A failure slower than this is a hang, not a refusal. */
    private readonly slowMs = 250,
  ) {}

  async run<T>(primary: () => Promise<T>, fallback: () => Promise<T>): Promise<T> {
    if (this.degraded && this.now() < this.retryAt) return fallback();
    const started = this.now();
    try {
      const result = await primary();
      if (this.degraded) {
        this.degraded = false;
        this.onChange?.({ degraded: false, what: this.what });
      }
      return result;
    } catch (error) {
      if (!isStorageUnavailable(error)) throw error;
      const now = this.now();
      this.retryAt = now - started >= this.slowMs ? now + this.retryAfterMs : 0;
      if (!this.degraded) {
        this.degraded = true;
        this.onChange?.({ degraded: true, what: this.what, error });
      }
      return fallback();
    }
  }
}

/**
 * Key quotas with a local fallback. Blocks (bad keys, cool-downs) are written to both stores, so
 * a key known to be bad stays set aside through an outage.
 */
export class FallbackQuotaStore implements QuotaStore {
  constructor(
    private readonly primary: QuotaStore,
    private readonly local: QuotaStore,
    private readonly failover: Failover,
  ) {}

  acquire(...args: Parameters<QuotaStore['acquire']>): ReturnType<QuotaStore['acquire']> {
    return this.failover.run(
      () => this.primary.acquire(...args),
      () => this.local.acquire(...args),
    );
  }

  settle(...args: Parameters<QuotaStore['settle']>): Promise<void> {
    return this.failover.run(
      () => this.primary.settle(...args),
      () => this.local.settle(...args),
    );
  }

  async block(...args: Parameters<QuotaStore['block']>): Promise<void> {
    await this.local.block(...args);
    await this.failover.run(
      () => this.primary.block(...args),
      async () => undefined,
    );
  }

  async unblock(keyId: string): Promise<void> {
    await this.local.unblock(keyId);
    await this.failover.run(
      () => this.primary.unblock(keyId),
      async () => undefined,
    );
  }

  async observe(...args: Parameters<QuotaStore['observe']>): Promise<void> {
    await this.local.observe(...args);
    await this.failover.run(
      () => this.primary.observe(...args),
      async () => undefined,
    );
  }

  usage(...args: Parameters<QuotaStore['usage']>): ReturnType<QuotaStore['usage']> {
    return this.failover.run(
      () => this.primary.usage(...args),
      () => this.local.usage(...args),
    );
  }
}

/**
 * History through the failover, with no local copy to fall back on (a conversation lives in one
 * place): while Redis refuses, each call fails at once as before; when Redis hangs, one call pays
 * the command timeout and the calls of the next second fail at once instead of each paying it.
 * Callers treat the failure as "history unavailable" and answer without it.
 */
export class GuardedHistoryStore implements HistoryStore {
  constructor(
    private readonly primary: HistoryStore,
    private readonly failover: Failover,
  ) {}

  load(...args: Parameters<HistoryStore['load']>): ReturnType<HistoryStore['load']> {
    return this.guard(() => this.primary.load(...args));
  }

  append(...args: Parameters<HistoryStore['append']>): ReturnType<HistoryStore['append']> {
    return this.guard(() => this.primary.append(...args));
  }

  replaceLast(...args: Parameters<HistoryStore['replaceLast']>): ReturnType<HistoryStore['replaceLast']> {
    return this.guard(() => this.primary.replaceLast(...args));
  }

  clear(...args: Parameters<HistoryStore['clear']>): ReturnType<HistoryStore['clear']> {
    return this.guard(() => this.primary.clear(...args));
  }

  private guard<T>(call: () => Promise<T>): Promise<T> {
    return guarded(this.failover, 'history', call);
  }
}

/** Settings with no local copy: during an outage they throw `StorageUnavailableError` quickly. */
export class GuardedSettingsStore implements SettingsStore {
  constructor(
    private readonly primary: SettingsStore,
    private readonly failover: Failover,
  ) {}

  load(...args: Parameters<SettingsStore['load']>): ReturnType<SettingsStore['load']> {
    return guarded(this.failover, 'settings', () => this.primary.load(...args));
  }

  update(...args: Parameters<SettingsStore['update']>): ReturnType<SettingsStore['update']> {
    return guarded(this.failover, 'settings', () => this.primary.update(...args));
  }

  clear(...args: Parameters<SettingsStore['clear']>): ReturnType<SettingsStore['clear']> {
    return guarded(this.failover, 'settings', () => this.primary.clear(...args));
  }
}

/** The primary's own failure when it was asked; a resting one's when it was not. */
function guarded<T>(failover: Failover, what: string, call: () => Promise<T>): Promise<T> {
  let failure: unknown;
  return failover.run(
    async () => {
      try {
        return await call();
      } catch (error) {
        failure = error;
        throw error;
      }
    },
    async () => {
      throw failure ?? new StorageUnavailableError(`${what} is unavailable: Redis did not answer in time`);
    },
  );
}

/** Stats with a local fallback: during an outage this process counts locally. */
export class FallbackStatsStore implements StatsStore {
  constructor(
    private readonly primary: StatsStore,
    private readonly local: StatsStore,
    private readonly failover: Failover,
  ) {}

  recordAttempt(...args: Parameters<StatsStore['recordAttempt']>): Promise<void> {
    return this.failover.run(
      () => this.primary.recordAttempt(...args),
      () => this.local.recordAttempt(...args),
    );
  }

  recordUserRequest(...args: Parameters<StatsStore['recordUserRequest']>): Promise<void> {
    return this.failover.run(
      () => this.primary.recordUserRequest(...args),
      () => this.local.recordUserRequest(...args),
    );
  }

  read(...args: Parameters<StatsStore['read']>): ReturnType<StatsStore['read']> {
    return this.failover.run(
      () => this.primary.read(...args),
      () => this.local.read(...args),
    );
  }

  userRequests(...args: Parameters<StatsStore['userRequests']>): ReturnType<StatsStore['userRequests']> {
    return this.failover.run(
      () => this.primary.userRequests(...args),
      () => this.local.userRequests(...args),
    );
  }
}

/** Per-user counters with a local fallback: during an outage each process limits on its own. */
export class FallbackCounterStore implements CounterStore {
  constructor(
    private readonly primary: CounterStore,
    private readonly local: CounterStore,
    private readonly failover: Failover,
  ) {}

  increment(...args: Parameters<CounterStore['increment']>): ReturnType<CounterStore['increment']> {
    return this.failover.run(
      () => this.primary.increment(...args),
      () => this.local.increment(...args),
    );
  }

  peek(...args: Parameters<CounterStore['peek']>): Promise<number> {
    return this.failover.run(
      () => this.primary.peek(...args),
      () => this.local.peek(...args),
    );
  }

  reserve(...args: Parameters<CounterStore['reserve']>): ReturnType<CounterStore['reserve']> {
    return this.failover.run(
      () => this.primary.reserve(...args),
      () => this.local.reserve(...args),
    );
  }

  release(...args: Parameters<CounterStore['release']>): Promise<void> {
    return this.failover.run(
      () => this.primary.release(...args),
      () => this.local.release(...args),
    );
  }
}
