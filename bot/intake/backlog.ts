import type { UpdateQueue } from '../../storage';
import type { Logger } from '../logger';
import { warnEvery } from './warn-every';

/**
 * Watches how many updates wait in the shared intake queue (read once a second, so the poller, the
 * webhook and /readyz ask nothing of Redis per update). Over `limit`, intake slows down: polling
 * waits, the webhook answers 503 (Telegram sends again later); nothing is dropped.
 */
export class BacklogMonitor {
  private last: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly warn: ReturnType<typeof warnEvery>;

  constructor(
    private readonly queue: UpdateQueue,
    readonly limit: number,
    logger: Logger,
    private readonly intervalMs = 1000,
  ) {
    this.warn = warnEvery(logger);
  }

  /** Updates queued and not yet handled, as last read (undefined before the first reading, or while Redis is away). */
  get backlog(): number | undefined {
    return this.last;
  }

  get full(): boolean {
    return this.last !== undefined && this.last >= this.limit;
  }

  async start(): Promise<void> {
    await this.read();
    this.timer = setInterval(() => void this.read(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async read(): Promise<void> {
    try {
      this.last = await this.queue.backlog();
    } catch {
      this.last = undefined;
      return;
    }
    if (this.full)
      this.warn({ backlog: this.last, limit: this.limit }, 'intake backlog over its limit: intake slows down');
  }
}
