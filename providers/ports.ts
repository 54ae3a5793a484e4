/**
 * The ports the router depends on, owned here so that the core imports nothing from `storage/`:
 * per-key quota admission and attempt statistics. `storage/memory/` and `storage/redis/` implement
 * them; one contract suite (tests/integration/storage/) runs against both.
 *
 * Failure semantics: a store never turns an error into "no data". When its backend is unreachable
 * it throws quickly (no long hangs) and the caller decides what degrades: the router skips a
 * provider whose quota store fails and never fails a request on a stats write.
 * Keys are referred to by an opaque id (`keyId`), never by the secret itself.
 */
import type { KeyLimits, ProviderErrorKind } from './types';

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
  | 'monthly' // the key's requests this month reached its monthly limit
  | 'tph' // the sliding hour's tokens (a transcription model's audio seconds per hour)
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
  /**
   * The provider's current quota day (e.g. `2026-11-26` in its reset time zone). Its month
   * (`2026-11`) is the quota month that a monthly limit counts.
   */
  readonly day: string;
}

export interface KeyBlock {
  readonly keyId: string;
  readonly reason: BlockReason;
  /**
   * When the key can take this request again; `undefined` when it depends on the next quota day
   * (on the next quota month for `monthly`).
   */
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
  /** Requests in the quota month of `day`. */
  readonly requestsThisMonth: number;
  /** Limits learned from headers, when a provider sent them. */
  readonly learnedLimits: KeyLimits;
  readonly block: { readonly reason: BlockReason; readonly until: number } | undefined;
}

export interface Settlement {
  readonly keyId: string;
  readonly reservationId: string;
  readonly reservedTokens: number;
  readonly actualTokens: number;
  /** The provider did not count this request: free its slot (see `QuotaStore.settle`). */
  readonly uncount?: boolean;
  readonly now: number;
  readonly day: string;
}

/**
 * Per-key admission: sliding one-minute windows for requests and tokens, per-day counters, and
 * blocks (cool-downs, bad keys). `acquire` picks the admissible key with the most headroom and
 * counts the request against it in one atomic step, so processes sharing a store never exceed a
 * key's limits together.
 */
export interface QuotaStore {
  acquire(request: AcquireRequest): Promise<AcquireResult>;
  /**
   * Replaces a reservation's estimated token count with the provider's reported one. With
   * `uncount`, the provider did not count the request at all (it refused it before doing any
   * work): the request leaves the key's minute window and day count, so its slot is free again.
   */
  settle(settlement: Settlement): Promise<void>;
  /** Keeps the key out of use until `until` (a later block replaces an earlier one). */
  block(keyId: string, reason: BlockReason, until: number, now: number): Promise<void>;
  unblock(keyId: string): Promise<void>;
  /** Aligns counters and limits with what the provider's headers said. */
  observe(keyId: string, observation: QuotaObservation, now: number, day: string): Promise<void>;
  usage(keyIds: readonly string[], now: number, day: string): Promise<KeyUsage[]>;
}

// ─── Stats ─────────────────────────────────────────────────────────────────────────────────────

/** How an attempt ended: an answer, or the class of its failure. */
export type AttemptOutcome = 'success' | ProviderErrorKind;

export interface AttemptRecord {
  readonly provider: string;
  readonly keyId: string;
  /** The key as it may be shown (`gsk_Xk…LPlN`), for metrics and logs. */
  readonly maskedKey: string;
  readonly outcome: AttemptOutcome;
  readonly latencyMs: number;
  readonly inputTokens?: number;
  readonly outputTokens?: number;
  /** This attempt answered a request after another provider or key had failed it. */
  readonly fallback: boolean;
  /** This attempt was a hedge: a backup started while another attempt of the request stalled. */
  readonly hedge?: boolean;
  /** A transcription (speech to text) rather than a chat request. */
  readonly transcription?: boolean;
  /** A chat request with media parts (an image, audio, a PDF). */
  readonly media?: boolean;
  /** Seconds of audio sent with the request (a transcription's length). */
  readonly audioSeconds?: number;
  readonly at: number;
}

export interface CounterSet {
  readonly requests: number;
  readonly successes: number;
  readonly fallbacks: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** Answers that came from a hedge (a backup started while another attempt stalled). */
  readonly hedges: number;
  /** Transcriptions answered, the seconds of audio they held, and chat answers to requests with media. */
  readonly transcriptions: number;
  readonly audioSeconds: number;
  readonly mediaRequests: number;
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
  /** One user's provider-costing requests that day (what `/usage` shows). */
  userRequests(userId: string, day: string): Promise<number>;
}
