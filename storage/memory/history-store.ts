import type { ChatMessage } from '../../providers/types';
import type { HistoryLimits, HistoryStore } from '../types';
import { trimToPairs } from '../history-rules';

interface Conversation {
  messages: ChatMessage[];
  /** Σ characters of `messages`. */
  chars: number;
  expiresAt: number;
  /** Ids of the exchanges stored, most recent last (a few are enough: re-handling is immediate). */
  exchangeIds: string[];
}

const REMEMBERED_EXCHANGES = 50;

/**
 * Conversations of one process, lost on restart. Bounded: expired conversations are dropped when
 * touched, and past `maxConversations` conversations or `maxChars` characters in all the least
 * recently used ones go first, so memory does not grow with the number of users or their verbosity.
 */
export class MemoryHistoryStore implements HistoryStore {
  private readonly conversations = new Map<string, Conversation>();
  private chars = 0;

  constructor(
    private readonly maxConversations = 10_000,
    private readonly now: () => number = Date.now,
    /** About 2 bytes each in memory: 16M characters is some 32 MB of text. */
    private readonly maxChars = 16_000_000,
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
    this.remove(conversationId);
    const kept = trimToPairs([...(previous?.messages ?? []), ...messages], limits.maxMessages);
    const chars = kept.reduce((sum, message) => sum + message.content.length, 0);
    this.chars += chars;
    this.conversations.set(conversationId, {
      messages: kept,
      chars,
      expiresAt: this.now() + limits.ttlSeconds * 1000,
      exchangeIds:
        exchangeId === undefined
          ? (previous?.exchangeIds ?? [])
          : [...(previous?.exchangeIds ?? []), exchangeId].slice(-REMEMBERED_EXCHANGES),
    });
    while (
      this.conversations.size > this.maxConversations ||
      (this.chars > this.maxChars && this.conversations.size > 1)
    ) {
      const oldest = this.conversations.keys().next().value;
      if (oldest === undefined) break;
      this.remove(oldest);
    }
    return true;
  }

  async replaceLast(
    conversationId: string,
    expected: readonly ChatMessage[],
    replacement: readonly ChatMessage[],
    limits: HistoryLimits,
  ): Promise<boolean> {
    const previous = this.live(conversationId);
    if (previous === undefined || !endsWith(previous.messages, expected)) return false;
    this.remove(conversationId);
    const kept = trimToPairs(
      [...previous.messages.slice(0, previous.messages.length - expected.length), ...replacement],
      limits.maxMessages,
    );
    const chars = kept.reduce((sum, message) => sum + message.content.length, 0);
    this.chars += chars;
    this.conversations.set(conversationId, {
      messages: kept,
      chars,
      expiresAt: this.now() + limits.ttlSeconds * 1000,
      exchangeIds: previous.exchangeIds,
    });
    return true;
  }

  async clear(conversationId: string): Promise<void> {
    this.remove(conversationId);
  }

  private remove(conversationId: string): void {
    const conversation = this.conversations.get(conversationId);
    if (conversation === undefined) return;
    this.chars -= conversation.chars;
    this.conversations.delete(conversationId);
  }

  get size(): number {
    return this.conversations.size;
  }

  private live(conversationId: string): Conversation | undefined {
    const conversation = this.conversations.get(conversationId);
    if (conversation !== undefined && conversation.expiresAt <= this.now()) {
      this.remove(conversationId);
      return undefined;
    }
    return conversation;
  }
}

/** Whether `messages` ends with `expected` (roles and texts; token counts aside). */
function endsWith(messages: readonly ChatMessage[], expected: readonly ChatMessage[]): boolean {
  if (expected.length === 0 || expected.length > messages.length) return false;
  const offset = messages.length - expected.length;
  return expected.every(
    (message, index) =>
      messages[offset + index]?.role === message.role && messages[offset + index]?.content === message.content,
  );
}
