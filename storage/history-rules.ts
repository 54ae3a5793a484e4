import type { ChatMessage } from '../providers/types';

/**
 * Keeps the last `maxMessages` messages, rounded down to an even count so a conversation never
 * starts with an answer whose question was cut off.
 */
export function trimToPairs(messages: readonly ChatMessage[], maxMessages: number): ChatMessage[] {
  return messages.slice(-keptMessages(maxMessages));
}

/** The number of messages kept for a limit (the Redis store trims with it). */
export function keptMessages(maxMessages: number): number {
  return Math.max(2, maxMessages - (maxMessages % 2));
}

/** Parses a stored message, or `undefined` for an entry that is not one (never throws on bad data). */
export function parseStoredMessage(raw: string): ChatMessage | undefined {
  try {
    const value: unknown = JSON.parse(raw);
    if (typeof value !== 'object' || value === null) return undefined;
    const { role, content } = value as { role?: unknown; content?: unknown };
    if ((role === 'user' || role === 'assistant' || role === 'system') && typeof content === 'string') {
      return { role, content };
    }
    return undefined;
  } catch {
    return undefined;
  }
}
