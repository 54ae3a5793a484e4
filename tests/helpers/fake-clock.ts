import type { Clock } from '../../providers/router/clock';

/**
 * A clock the test owns. `advance(ms)` moves time and wakes sleepers whose time has come. With
 * `autoAdvance`, a `sleep` moves time forward by itself (virtual time: waiting costs nothing).
 */
export class FakeClock implements Clock {
  private time: number;
  private readonly sleepers: { wakeAt: number; resolve: () => void }[] = [];

  constructor(
    start = Date.UTC(2026, 10, 26, 12, 0, 0),
    private readonly autoAdvance = false,
  ) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  /** Total virtual time spent sleeping (auto-advance mode). */
  slept = 0;

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.autoAdvance) {
      this.time += ms;
      this.slept += ms;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const sleeper = { wakeAt: this.time + ms, resolve };
      this.sleepers.push(sleeper);
      signal?.addEventListener(
        'abort',
        () => {
          this.sleepers.splice(this.sleepers.indexOf(sleeper), 1);
          reject(signal.reason);
        },
        { once: true },
      );
    });
  }

  /** How many sleeps are waiting for time to move on. */
  get sleeping(): number {
    return this.sleepers.length;
  }

  advance(ms: number): void {
    this.time += ms;
    for (const sleeper of [...this.sleepers]) {
      if (sleeper.wakeAt <= this.time) {
        this.sleepers.splice(this.sleepers.indexOf(sleeper), 1);
        sleeper.resolve();
      }
    }
  }
}
