import { encode } from 'gpt-tokenizer';
import type { ChatMessage } from '../types';

/**
 * Tokens a request will count against a key's token limits, estimated before sending. Models use
 * different tokenizers; o200k (gpt-tokenizer) is close to most of them for Latin
 * text and undercounts some scripts, so the estimate adds a margin. Reported usage corrects it
 * afterwards (QuotaStore.settle).
 */
const MARGIN = 1.2;
const PER_MESSAGE_OVERHEAD = 6;

export function estimateInputTokens(messages: readonly ChatMessage[]): number {
  let tokens = 3;
  for (const message of messages) {
    tokens += PER_MESSAGE_OVERHEAD + countTokens(message.content);
  }
  return Math.ceil(tokens * MARGIN);
}

/** Tokens of one text; long texts are estimated from a sample to keep this cheap on the hot path. */
export function countTokens(text: string): number {
  if (text.length <= 20_000) return encode(text).length;
  const sample = text.slice(0, 20_000);
  return Math.ceil((encode(sample).length * text.length) / sample.length);
}
