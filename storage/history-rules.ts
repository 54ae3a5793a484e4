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

/** How a message is stored: role, content and, when known, its token count. */
export function serializeStoredMessage(message: ChatMessage): string {
  return JSON.stringify(
    message.tokens === undefined
      ? { role: message.role, content: message.content }
      : { role: message.role, content: message.content, tokens: message.tokens },
  );
}

function isTokenCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Parses a stored message, or `undefined` for an entry that is not one (never throws on bad data). */
export function parseStoredMessage(raw: string): ChatMessage | undefined {
  try {
    const value: unknown = JSON.parse(raw);
    if (typeof value !== 'object' || value === null) return undefined;
    const { role, content, tokens } = value as { role?: unknown; content?: unknown; tokens?: unknown };
    if ((role === 'user' || role === 'assistant' || role === 'system') && typeof content === 'string') {
      // A stored token count is kept when it is a plausible one; otherwise it is counted again.
      return isTokenCount(tokens) ? { role, content, tokens } : { role, content };
    }
    return undefined;
  } catch {
    return undefined;
  }
}
