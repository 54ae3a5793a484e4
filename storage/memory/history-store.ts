import type { ChatMessage } from '../../providers/types';
import type { HistoryLimits, HistoryStore } from '../types';
import { trimToPairs } from '../history-rules';

interface Conversation {
  messages: ChatMessage[];
  expiresAt: number;
  /** Ids of the exchanges stored, most recent last (a few are enough: re-handling is immediate). */
  exchangeIds: string[];
}

const REMEMBERED_EXCHANGES = 50;

/**
 * Conversations of one process, lost on restart. Bounded: expired conversations are dropped when
 * touched, and past `maxConversations` the least recently used ones go first, so memory does not
 * grow with the number of users.
 */
export class MemoryHistoryStore implements HistoryStore {
  private readonly conversations = new Map<string, Conversation>();

  constructor(
    private readonly maxConversations = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  async load(conversationId: string): Promise<ChatMessage[]> {
    const conversation = this.live(conversationId);
    return conversation === undefined ? [] : [...conversation.messages];
  }

  async append(
    conversationId: string,
    messages: readonly ChatMessage[],
    limits: HistoryLimits,
    exchangeId?: string,
  ): Promise<boolean> {
    const previous = this.live(conversationId);
    if (exchangeId !== undefined && previous?.exchangeIds.includes(exchangeId)) return false;
    this.conversations.delete(conversationId);
    this.conversations.set(conversationId, {
      messages: trimToPairs([...(previous?.messages ?? []), ...messages], limits.maxMessages),
      expiresAt: this.now() + limits.ttlSeconds * 1000,
      exchangeIds:
        exchangeId === undefined
          ? (previous?.exchangeIds ?? [])
          : [...(previous?.exchangeIds ?? []), exchangeId].slice(-REMEMBERED_EXCHANGES),
    });
    while (this.conversations.size > this.maxConversations) {
      const oldest = this.conversations.keys().next().value;
      if (oldest === undefined) break;
      this.conversations.delete(oldest);
    }
    return true;
  }

  async clear(conversationId: string): Promise<void> {
    this.conversations.delete(conversationId);
  }

  get size(): number {
    return this.conversations.size;
  }

  private live(conversationId: string): Conversation | undefined {
    const conversation = this.conversations.get(conversationId);
    if (conversation !== undefined && conversation.expiresAt <= this.now()) {
      this.conversations.delete(conversationId);
      return undefined;
    }
    return conversation;
  }
}
