/**
 * The storage ports. Each has an in-memory implementation (`storage/memory/`, the default when no
 * `REDIS_URL` is set) and a Redis one (`storage/redis/`) that several bot processes can share;
 * one contract suite (tests/integration/storage/) runs against both.
 *
 * Failure semantics: a store never turns an error into "no data". When its backend is unreachable
 * it throws `StorageUnavailableError` quickly (no long hangs) and the caller decides what degrades.
 * Keys are referred to by an opaque id (`keyId`), never by the secret itself.
 */
import type { ChatMessage, KeyLimits, ProviderErrorKind } from '../providers/types';

export class StorageUnavailableError extends Error {
  override readonly name = 'StorageUnavailableError';
}

export function isStorageUnavailable(error: unknown): error is StorageUnavailableError {
  return error instanceof Error && error.name === 'StorageUnavailableError';
}

// ─── Key quotas ────────────────────────────────────────────────────────────────────────────────

/** Why a key cannot take a request right now. */
export type BlockReason =
  | 'cooldown' // a 429 told us to wait, or a header said a window is empty
  | 'quota' // a daily / monthly quota is used up
  | 'bad' // the key failed authentication
  | 'rpm'
  | 'rpd'
  | 'tpm'
  | 'tpd'
  | 'too_large'; // the request alone is larger than the key's token-per-minute limit

export interface QuotaCandidate {
  readonly keyId: string;
  /** The configured limits; limits learned from headers (see `observe`) take precedence. */
  readonly limits: KeyLimits;
}

export interface AcquireRequest {
  /** The keys of one provider, in the order the caller prefers among equals. */
  readonly candidates: readonly QuotaCandidate[];
  /** Tokens this request is expected to count against TPM / TPD (input estimate + output allowance). */
  readonly tokens: number;
  /** Unique id of this reservation, used to correct its token count later. */
  readonly reservationId: string;
  readonly now: number;
  /** The provider's current quota day (e.g. `2026-11-26` in its reset time zone). */
  readonly day: string;
}

export interface KeyBlock {
  readonly keyId: string;
  readonly reason: BlockReason;
  /** When the key can take this request again; `undefined` when it depends on the next quota day. */
  readonly until: number | undefined;
}

export type AcquireResult =
  | { readonly ok: true; readonly keyId: string }
  | { readonly ok: false; readonly blocks: readonly KeyBlock[] };

/** What a provider's response headers said about one key, converted to absolute times. */
export interface QuotaObservation {
  readonly requestsPerMinute?: WindowObservation;
  readonly requestsPerDay?: WindowObservation;
  readonly tokensPerMinute?: WindowObservation;
  readonly tokensPerDay?: WindowObservation;
  /** A window of unstated length: only "empty until" is usable. */
  readonly requests?: WindowObservation;
}

export interface WindowObservation {
  readonly limit?: number;
  readonly remaining?: number;
  /** Absolute time the window resets. */
  readonly resetAt?: number;
}

export interface KeyUsage {
  readonly keyId: string;
  readonly requestsLastMinute: number;
  readonly tokensLastMinute: number;
  readonly requestsToday: number;
  readonly tokensToday: number;
  /** Limits learned from headers, when a provider sent them. */
  readonly learnedLimits: KeyLimits;
  readonly block: { readonly reason: BlockReason; readonly until: number } | undefined;
}

/**
 * Per-key admission: sliding one-minute windows for requests and tokens, per-day counters, and
 * blocks (cool-downs, bad keys). `acquire` picks the admissible key with the most headroom and
 * counts the request against it in one atomic step, so processes sharing a store never exceed a
 * key's limits together.
 */
export interface QuotaStore {
  acquire(request: AcquireRequest): Promise<AcquireResult>;
  /** Replaces a reservation's estimated token count with the provider's reported one. */
  settle(settlement: {
    readonly keyId: string;
    readonly reservationId: string;
    readonly reservedTokens: number;
    readonly actualTokens: number;
    readonly now: number;
    readonly day: string;
  }): Promise<void>;
  /** Keeps the key out of use until `until` (a later block replaces an earlier one). */
  block(keyId: string, reason: BlockReason, until: number, now: number): Promise<void>;
  unblock(keyId: string): Promise<void>;
  /** Aligns counters and limits with what the provider's headers said. */
  observe(keyId: string, observation: QuotaObservation, now: number, day: string): Promise<void>;
  usage(keyIds: readonly string[], now: number, day: string): Promise<KeyUsage[]>;
}

// ─── Conversation history ──────────────────────────────────────────────────────────────────────

export interface HistoryLimits {
  /** Messages kept (a user turn and its answer are two). */
  readonly maxMessages: number;
  readonly ttlSeconds: number;
}

export interface HistoryStore {
  load(conversationId: string): Promise<ChatMessage[]>;
  /**
   * Appends a whole exchange (the user turn and the answer) atomically, then trims to the limit.
   * With an `exchangeId` (the Telegram update it answers), an exchange already stored under that id
   * is not stored again: an update handled a second time after a crash adds no duplicate turn.
   * Returns whether it was stored.
   */
  append(
    conversationId: string,
    messages: readonly ChatMessage[],
    limits: HistoryLimits,
    exchangeId?: string,
  ): Promise<boolean>;
  clear(conversationId: string): Promise<void>;
}

// ─── Counters (per-user limits) ────────────────────────────────────────────────────────────────

export interface CounterStore {
  /**
   * Increments `key` in a fixed window of `windowMs` that starts with the first increment, and
   * returns the new count and when the window ends. Atomic (INCR + PEXPIRE-if-new in one step).
   */
  increment(key: string, windowMs: number, now: number): Promise<{ count: number; resetAt: number }>;
  /** Reads without incrementing (0 when absent or expired). */
  peek(key: string, now: number): Promise<number>;
}

// ─── Stats ─────────────────────────────────────────────────────────────────────────────────────

/** How an attempt ended: an answer, or the class of its failure. */
export type AttemptOutcome = 'success' | ProviderErrorKind;

export interface AttemptRecord {
  readonly provider: string;
  readonly keyId: string;
  readonly outcome: AttemptOutcome;
  readonly latencyMs: number;
  readonly timeToFirstTokenMs?: number;
  readonly inputTokens?: number;
  readonly outputTokens?: number;
  /** This attempt answered a request after another provider or key had failed it. */
  readonly fallback: boolean;
  readonly at: number;
}

export interface CounterSet {
  readonly requests: number;
  readonly successes: number;
  readonly fallbacks: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly failures: Readonly<Partial<Record<Exclude<AttemptOutcome, 'success'>, number>>>;
  /** Recent latencies in ms (most recent first, capped), for percentiles. */
  readonly latencies: readonly number[];
}

export interface StatsSnapshot {
  readonly day: string;
  readonly providers: Readonly<Record<string, CounterSet>>;
  readonly keys: Readonly<Record<string, CounterSet>>;
  /** Users who made a provider-costing request that day. */
  readonly activeUsers: number;
  /** The users with the most provider-costing requests that day, most first. */
  readonly topUsers: readonly { readonly userId: string; readonly requests: number }[];
}

export interface StatsStore {
  recordAttempt(record: AttemptRecord, day: string): Promise<void>;
  recordUserRequest(userId: string, day: string): Promise<void>;
  read(day: string, topUsers?: number): Promise<StatsSnapshot>;
}

// ─── Chat order (several processes) ────────────────────────────────────────────────────────────

/** A place in one chat's line of updates. */
export interface ChatTicket {
  readonly chatId: string;
  /** 1, 2, 3 … in the order the chat's updates were received, by whichever process received them. */
  readonly number: number;
}

/**
 * How a wait for a turn ended: every earlier ticket was done (`turn`); an earlier one did not finish
 * in time, e.g. its process died, and is skipped from now on (`gave-up`); or the store became
 * unreachable and the update goes on in this process's own order (`unordered`, only from the
 * fallback wrapper: the stores themselves throw `StorageUnavailableError`).
 */
export type TurnOutcome = 'turn' | 'gave-up' | 'unordered';

/**
 * Keeps each chat's updates in the order they were received, across every process sharing the
 * store (a ticket lock): a ticket is taken when an update arrives, before it is acknowledged, so
 * that ticket order is delivery order; the update is handled once every earlier ticket of its chat
 * is done; then its ticket is marked done.
 */
export interface ChatOrdering {
  take(chatId: string): Promise<ChatTicket>;
  /**
   * Resolves once every earlier ticket of the chat is done. A wait is bounded: when no earlier
   * ticket finished for `maxWaitMs` per ticket still ahead, it ends with `gave-up` and the earlier
   * tickets count as done, so the ones behind do not wait for them as well.
   */
  waitForTurn(ticket: ChatTicket, maxWaitMs: number): Promise<TurnOutcome>;
  done(ticket: ChatTicket): Promise<void>;
}
