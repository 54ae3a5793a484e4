import type { Broadcast } from '../types';
import { callRedis, type RedisClient } from './client';

/**
 * Messages to every process through one Redis pub/sub channel. The `subscriber` connection is
 * shared with the chat lines' notifications (a subscribed connection can do nothing else), so
 * messages of other channels are ignored; after a reconnect the channel is subscribed again.
 */
export class RedisBroadcast implements Broadcast {
  private readonly listeners: ((message: string) => void)[] = [];

  constructor(
    private readonly redis: RedisClient,
    private readonly subscriber: RedisClient,
    private readonly channel: string,
  ) {
    subscriber.on('message', (from: string, message: string) => {
      if (from !== channel) return;
      for (const listener of this.listeners) listener(message);
    });
    subscriber.on('ready', () => void this.listen());
    if (subscriber.status === 'ready') void this.listen();
  }

  async publish(message: string): Promise<void> {
    await callRedis(() => this.redis.publish(this.channel, message));
  }

  subscribe(listener: (message: string) => void): void {
    this.listeners.push(listener);
  }

  private async listen(): Promise<void> {
    await this.subscriber.subscribe(this.channel).catch(() => undefined); // the next 'ready' tries again
  }
}
