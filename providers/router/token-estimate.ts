import { countTokens as countR50k, setMergeCacheSize } from 'gpt-tokenizer/encoding/r50k_base';
import type { ChatMessage, MediaPart } from '../types';

/**
 * Tokens a request will count against a key's token limits, estimated before sending; reported
 * usage corrects it afterwards (QuotaStore.settle). The providers' models use different
 * tokenizers, so the estimate must err high: gpt-tokenizer's r50k vocabulary counts about what
 * modern tokenizers count for English and code, and more for other scripts (a Persian sentence:
 * 94 tokens where o200k counts 27 and cl100k 61) — over-counting only holds back a little token
 * budget until the answer settles it, while under-counting earns a 413 or a 429. It is also the
 * smallest vocabulary to keep in memory (about 20 MB, against about 70 MB for o200k).
 */
const MARGIN = 1.1;
const PER_MESSAGE_OVERHEAD = 6;

export function estimateInputTokens(messages: readonly ChatMessage[]): number {
  let tokens = 3;
  for (const message of messages) {
    tokens += PER_MESSAGE_OVERHEAD + messageTokens(message);
    if (message.media !== undefined) for (const part of message.media) tokens += mediaTokens(part);
  }
  return Math.ceil(tokens * MARGIN);
}

/** Tokens of an image, whatever its size: above what the providers count for one (docs/providers.md). */
const IMAGE_TOKENS = 1_600;
/** Audio is counted by its length: 32 tokens a second (the highest rate found, docs/providers.md). */
const AUDIO_TOKENS_PER_SECOND = 32;
/** Without a known length, a second of voice note is taken to be 1 KB (OGG/Opus at 8 kbit/s and up). */
const AUDIO_BYTES_PER_SECOND = 1_000;
/** A PDF page is 258 tokens as an image; its pages are guessed from its size (one per 10 KB, at least one). */
const PDF_TOKENS_PER_PAGE = 258;
const PDF_BYTES_PER_PAGE = 10_000;

/** A media part's tokens, estimated before sending (docs/providers.md gives each provider's rules). */
export function mediaTokens(part: MediaPart): number {
  switch (part.kind) {
    case 'image':
      return IMAGE_TOKENS;
    case 'audio':
      return Math.ceil(
        (part.durationSeconds ?? part.data.byteLength / AUDIO_BYTES_PER_SECOND) * AUDIO_TOKENS_PER_SECOND,
      );
    case 'pdf':
      return Math.max(1, Math.ceil(part.data.byteLength / PDF_BYTES_PER_PAGE)) * PDF_TOKENS_PER_PAGE;
  }
}

/** The tokens of a message's content: the count it carries (stored with history), or counted now. */
export function messageTokens(message: ChatMessage): number {
  return message.tokens ?? countTokens(message.content);
}

/** The message with its token count attached (to be stored with it). */
export function withTokens(message: ChatMessage): ChatMessage {
  return message.tokens === undefined ? { ...message, tokens: countTokens(message.content) } : message;
}

/**
 * Recent counts of short texts. Every chat request counts the same texts more than once (the
 * system prompt on every request; the new message when fitting, reserving and storing), and
 * encoding is the costliest step of routing. History messages carry their stored count instead:
 * a memo of a few hundred texts cannot hold the histories of thousands of users. Bounded: at
 * most MEMO_ENTRIES texts of at most MEMO_MAX_CHARS characters, the oldest forgotten first.
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

/**
 * The tokenizer keeps the merges of the words it has seen; its default of 100,000 words is some
 * 30 MB once enough different users have written enough different words, which is memory that
 * grows with users. A few thousand cover a conversation's common words.
 */
const MERGE_CACHE_WORDS = 4096;
setMergeCacheSize(MERGE_CACHE_WORDS);

/**
 * Text is counted as text: `<|endoftext|>` and the like, which a user or a model may write, are
 * counted like any other characters instead of making the tokenizer throw (which would fail
 * every later request of a conversation that holds them).
 */
const AS_PLAIN_TEXT = { disallowedSpecial: new Set<string>() };

function encodeLength(text: string): number {
  if (text.length <= 20_000) return countR50k(text, AS_PLAIN_TEXT);
  const sample = text.slice(0, 20_000);
  return Math.ceil((countR50k(sample, AS_PLAIN_TEXT) * text.length) / sample.length);
}
