import { randomUUID } from 'node:crypto';
import type { Broadcast } from '../../storage';

/** A streamed answer that a Stop button can end. */
export interface ActiveStream {
  /** The user who asked: only they may stop it. */
  readonly userId: number;
  readonly controller: AbortController;
}

type RelayMessage =
  | { readonly type: 'stop'; readonly id: string; readonly key: string; readonly userId: number }
  | { readonly type: 'stopped'; readonly id: string };

/**
 * Stop presses for answers streaming in any process. An answer is registered where it streams;
 * a press is served here when the answer streams here, and otherwise asked of every process over
 * the store's broadcast: the one streaming it aborts it and says so. With Redis, a press can land
 * on any process (the durable intake hands updates to whichever is free). No answer within
 * `waitMs`: the answer had finished (or its process is gone).
 */
export class StopRelay {
  private readonly streams = new Map<string, ActiveStream>();
  private readonly pending = new Map<string, (stopped: boolean) => void>();

  /**
   * `shared`: other processes may stream answers (Redis); without it a press is served here or
   * not at all, at once.
   */
  constructor(
    private readonly broadcast: Broadcast,
    private readonly shared: boolean,
    private readonly waitMs = 1000,
  ) {
    if (shared) broadcast.subscribe((message) => this.receive(message));
  }

  /** An answer streams here under `key` (`<chat id>:<stream id>`); call the result when it ends. */
  register(key: string, stream: ActiveStream): () => void {
    this.streams.set(key, stream);
    return () => {
      if (this.streams.get(key) === stream) this.streams.delete(key);
    };
  }

  /** Stops the answer `key` of `userId`, wherever it streams; resolves whether one was stopped. */
  async stop(key: string, userId: number): Promise<boolean> {
    if (this.stopHere(key, userId)) return true;
    if (!this.shared) return false;
    const id = randomUUID();
    const stopped = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => settle(false), this.waitMs);
      const settle = (value: boolean): void => {
        clearTimeout(timer);
        this.pending.delete(id);
        resolve(value);
      };
      this.pending.set(id, settle);
    });
    const request: RelayMessage = { type: 'stop', id, key, userId };
    await this.broadcast.publish(JSON.stringify(request)).catch(() => this.pending.get(id)?.(false));
    return stopped;
  }

  private stopHere(key: string, userId: number): boolean {
    const stream = this.streams.get(key);
    if (stream === undefined || stream.userId !== userId) return false;
    this.streams.delete(key);
    stream.controller.abort();
    return true;
  }

  private receive(raw: string): void {
    let message: RelayMessage;
    try {
      message = JSON.parse(raw) as RelayMessage;
    } catch {
      return;
    }
    if (message.type === 'stopped') {
      this.pending.get(message.id)?.(true);
      return;
    }
    if (message.type !== 'stop' || !this.stopHere(message.key, message.userId)) return;
    const answer: RelayMessage = { type: 'stopped', id: message.id };
    void this.broadcast.publish(JSON.stringify(answer)).catch(() => undefined);
  }
}
