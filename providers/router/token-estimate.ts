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

/**
 * Recent counts of short texts. Every chat request counts the same texts more than once (the
 * system prompt on every request; each history message when fitting and again when reserving),
 * and encoding is the costliest step of routing. Bounded: at most MEMO_ENTRIES texts of at most
 * MEMO_MAX_CHARS characters, the oldest forgotten first.
 */
const MEMO_ENTRIES = 512;
const MEMO_MAX_CHARS = 4096;
const memo = new Map<string, number>();

/** Tokens of one text; long texts are estimated from a sample to keep this cheap on the hot path. */
export function countTokens(text: string): number {
  if (text.length > MEMO_MAX_CHARS) return encodeLength(text);
  const known = memo.get(text);
  if (known !== undefined) return known;
  const count = encodeLength(text);
  if (memo.size >= MEMO_ENTRIES) memo.delete(memo.keys().next().value!);
  memo.set(text, count);
  return count;
}

function encodeLength(text: string): number {
  if (text.length <= 20_000) return encode(text).length;
  const sample = text.slice(0, 20_000);
  return Math.ceil((encode(sample).length * text.length) / sample.length);
}
