import type { Clock } from '../providers';

/**
 * Virtual time for the simulated day, as a small discrete-event scheduler. The driver starts each
 * request at its arrival time and lets it run until it is done or asleep; HTTP exchanges happen
 * while virtual time stands still. A router that waits for a key sleeps in virtual time, and other
 * requests arrive and run meanwhile, as they would in a bot serving many users at once. `advanceTo`
 * wakes sleepers in time order, one at a time, each running until it is done or asleep again.
 *
 * One instance drives the router, the adapters (absolute reset headers) and the fake server's
 * `now`, so all three agree on what time it is.
 */
export class VirtualClock implements Clock {
  /** Total virtual time requests spent asleep (waiting for a key). */
  slept = 0;
  private readonly sleepers: { readonly wakeAt: number; readonly wake: () => void }[] = [];
  /** Tasks running right now (started or woken, not yet done or asleep). */
  private active = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(private time: number) {}

  now(): number {
    return this.time;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const step = Math.max(0, ms);
    this.slept += step;
    return new Promise<void>((resolve, reject) => {
      const sleeper = {
        wakeAt: this.time + step,
        wake: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = (): void => {
        const index = this.sleepers.indexOf(sleeper);
        if (index === -1) return;
        this.sleepers.splice(index, 1);
        this.active += 1;
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      let index = this.sleepers.length;
      while (index > 0 && (this.sleepers[index - 1]?.wakeAt ?? 0) > sleeper.wakeAt) index--;
      this.sleepers.splice(index, 0, sleeper);
      this.setActive(this.active - 1);
    });
  }

  /**
   * Runs `task` as one simulated activity and resolves once it is done or asleep. The task's own
   * outcome is what the returned `done` promise settles with.
   */
  async start<T>(task: () => Promise<T>): Promise<{ readonly done: Promise<T> }> {
    this.active += 1;
    const done = task().finally(() => this.setActive(this.active - 1));
    // Keep an early failure from being reported as unhandled before the caller awaits `done`.
    done.catch(() => undefined);
    await this.idle();
    return { done };
  }

  /** Moves time forward to `at`, waking every sleeper due by then in order. Never goes backwards. */
  async advanceTo(at: number): Promise<void> {
    for (let next = this.sleepers[0]; next !== undefined && next.wakeAt <= at; next = this.sleepers[0]) {
      this.sleepers.shift();
      if (next.wakeAt > this.time) this.time = next.wakeAt;
      this.active += 1;
      next.wake();
      await this.idle();
    }
    if (at > this.time) this.time = at;
  }

  /** Wakes sleepers, in time order, until none is left. */
  async drain(): Promise<void> {
    for (let next = this.sleepers[0]; next !== undefined; next = this.sleepers[0]) await this.advanceTo(next.wakeAt);
  }

  get sleeping(): number {
    return this.sleepers.length;
  }

  private setActive(count: number): void {
    this.active = count;
    if (count > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private idle(): Promise<void> {
    if (this.active <= 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}
