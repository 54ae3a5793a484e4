import type { ChatMessage, MediaReference } from '../providers/types';

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

/**
 * How a message is stored: role, content and, when known, its token count and the reference of the
 * media it stood for (never media bytes).
 */
export function serializeStoredMessage(message: ChatMessage): string {
  const stored: Record<string, unknown> = { role: message.role, content: message.content };
  if (message.tokens !== undefined) stored.tokens = message.tokens;
  if (message.reference !== undefined) stored.reference = message.reference;
  return JSON.stringify(stored);
}

const MEDIA_KINDS = new Set(['image', 'audio', 'pdf']);

/** A stored media reference, or `undefined` for anything that is not one. */
function parseReference(value: unknown): MediaReference | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { kind, fileId, caption, fileName } = value as {
    kind?: unknown;
    fileId?: unknown;
    caption?: unknown;
    fileName?: unknown;
  };
  if (typeof kind !== 'string' || !MEDIA_KINDS.has(kind) || typeof fileId !== 'string') return undefined;
  return {
    kind: kind as MediaReference['kind'],
    fileId,
    ...(typeof caption === 'string' ? { caption } : {}),
    ...(typeof fileName === 'string' ? { fileName } : {}),
  };
}

function isTokenCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Parses a stored message, or `undefined` for an entry that is not one (never throws on bad data). */
export function parseStoredMessage(raw: string): ChatMessage | undefined {
  try {
    const value: unknown = JSON.parse(raw);
    if (typeof value !== 'object' || value === null) return undefined;
    const { role, content, tokens, reference } = value as {
      role?: unknown;
      content?: unknown;
      tokens?: unknown;
      reference?: unknown;
    };
    if ((role === 'user' || role === 'assistant' || role === 'system') && typeof content === 'string') {
      // A stored token count is kept when it is a plausible one; otherwise it is counted again.
      const message: ChatMessage = isTokenCount(tokens) ? { role, content, tokens } : { role, content };
      const media = parseReference(reference);
      return media === undefined ? message : { ...message, reference: media };
    }
    return undefined;
  } catch {
    return undefined;
  }
}
