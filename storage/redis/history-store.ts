import type { Redis } from 'ioredis';
import type { ChatMessage } from '../../providers/types';
import { keptMessages, parseStoredMessage } from '../history-rules';
import type { HistoryLimits, HistoryStore } from '../types';
import { callRedis } from './client';

/**
 * Conversations in Redis lists (one JSON message per entry). An exchange is appended, trimmed and
 * given its TTL in one MULTI, so a crash never leaves half of it.
 */
export class RedisHistoryStore implements HistoryStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'sb:',
  ) {}

  private key(conversationId: string): string {
    return `${this.prefix}history:${conversationId}`;
  }

  async load(conversationId: string): Promise<ChatMessage[]> {
    const entries = await callRedis(() => this.redis.lrange(this.key(conversationId), 0, -1));
    return entries.flatMap((entry) => {
      const message = parseStoredMessage(entry);
      return message === undefined ? [] : [message];
    });
  }

  async append(conversationId: string, messages: readonly ChatMessage[], limits: HistoryLimits): Promise<void> {
    if (messages.length === 0) return;
    const key = this.key(conversationId);
    const results = await callRedis(() =>
      this.redis
        .multi()
        .rpush(key, ...messages.map((message) => JSON.stringify({ role: message.role, content: message.content })))
        .ltrim(key, -keptMessages(limits.maxMessages), -1)
        .expire(key, limits.ttlSeconds)
        .exec(),
    );
    const failed = results?.find(([error]) => error !== null);
    if (failed?.[0]) throw failed[0];
  }

  async clear(conversationId: string): Promise<void> {
    await callRedis(() => this.redis.del(this.key(conversationId)));
  }
}
