import type { Broadcast } from '../types';

/** Messages within this process (no Redis: it is the only process). */
export class MemoryBroadcast implements Broadcast {
  private readonly listeners: ((message: string) => void)[] = [];

  async publish(message: string): Promise<void> {
    for (const listener of this.listeners) queueMicrotask(() => listener(message));
  }

  subscribe(listener: (message: string) => void): void {
    this.listeners.push(listener);
  }
}
