/**
 * The storage ports the application uses beside the router's (those live in `providers/ports.ts`):
 * conversation history, per-user counters, per-user settings and per-chat ordering. Each has an in-memory
 * implementation (`storage/memory/`, the default when no `REDIS_URL` is set) and a Redis one
 * (`storage/redis/`) that several bot processes can share; one contract suite
 * (tests/integration/storage/) runs against both.
 *
 * Failure semantics: a store never turns an error into "no data". When its backend is unreachable
 * it throws `StorageUnavailableError` quickly (no long hangs) and the caller decides what degrades.
 */
import type { ChatMessage } from '../providers/types';

export class StorageUnavailableError extends Error {
  override readonly name = 'StorageUnavailableError';
  /**
   * The call certainly changed nothing: it never left this process (no connection) or the backend
   * refused it. Otherwise it may have been applied and only its answer lost with the connection.
   */
  readonly notApplied: boolean;

  constructor(message: string, options?: ErrorOptions & { readonly notApplied?: boolean }) {
    super(message, options);
    this.notApplied = options?.notApplied ?? false;
  }
}

export function isStorageUnavailable(error: unknown): error is StorageUnavailableError {
  return error instanceof Error && error.name === 'StorageUnavailableError';
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
  /**
   * Replaces the conversation's last `expected.length` messages with `replacement`, only when they
   * are still `expected` (same roles and texts): a regenerated or continued answer takes the place
   * of the one it redoes, and a conversation that moved on meanwhile is left alone. Trims and
   * renews the TTL as `append` does. Returns whether it replaced them.
   */
  replaceLast(
    conversationId: string,
    expected: readonly ChatMessage[],
    replacement: readonly ChatMessage[],
    limits: HistoryLimits,
  ): Promise<boolean>;
  clear(conversationId: string): Promise<void>;
}

// ─── User settings ─────────────────────────────────────────────────────────────────────────────

/** A user's settings as stored: named text fields. The application validates what it reads. */
export type SettingsFields = Readonly<Record<string, string>>;

/**
 * Per-user settings (/settings), kept without expiry. Fields are set and removed one by one and
 * atomically, so two changes at once (two processes, two buttons) never undo each other.
 */
export interface SettingsStore {
  /** The user's stored fields; `{}` when none. */
  load(userId: string): Promise<SettingsFields>;
  /** Sets each field given (`null` removes it) in one step and returns every field after the change. */
  update(userId: string, changes: Readonly<Record<string, string | null>>): Promise<SettingsFields>;
  clear(userId: string): Promise<void>;
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
  /**
   * Adds `amount` (≥ 1) to `key`, in a fixed window of `windowMs` that starts with the first
   * addition as `increment` does, only when the total stays within `limit`: a reservation against
   * a budget (a user's media requests or seconds of audio today). Atomic: two reservations at once
   * never pass the limit together. `reserved` says whether it was added; `total` is the count after
   * (unchanged when refused), `resetAt` when the window ends (`now + windowMs` for a new one).
   */
  reserve(
    key: string,
    amount: number,
    limit: number,
    windowMs: number,
    now: number,
  ): Promise<{ reserved: boolean; total: number; resetAt: number }>;
  /**
   * Gives back `amount` of a reservation that was not used (nothing was sent), never going below 0;
   * the window keeps its end. Nothing happens when the window has ended meanwhile.
   */
  release(key: string, amount: number, now: number): Promise<void>;
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

// ─── Update queue (durable intake) ─────────────────────────────────────────────────────────────

/** One update in the intake queue, as a consumer gets it. */
export interface QueuedUpdate {
  /** The queue's own id of the entry (a Redis stream id, or a counter in memory). */
  readonly entryId: string;
  readonly updateId: number;
  /** The update as Telegram sent it (JSON). */
  readonly payload: string;
  /** How many times the entry has been handed to a consumer, this time included. */
  readonly deliveries: number;
  /** Its place in its chat's line, taken when it was appended (none for an update without a chat). */
  readonly ticket?: ChatTicket;
  /** Every earlier ticket of its chat was done when it was appended: its turn needs no wait. */
  readonly firstInLine?: boolean;
}

/**
 * The intake queue every bot process shares (docs/architecture.md, "Intake"): updates are
 * appended once, as they arrive, and handed out to consumers; an entry stays until its consumer
 * acknowledges it (its effect is stored), and a consumer that died leaves its entries to be
 * reclaimed by another after an idle time. Acknowledged entries leave the queue.
 */
export interface UpdateQueue {
  /**
   * Appends an update once: an update_id appended in the last day is not appended again (an update
   * fetched twice is queued once). With `chatId`, the same step takes the chat's next ticket in
   * `ordering` (so ticket order is append order, and an update appended twice holds one ticket).
   * Resolves `true` when appended, `false` when it was already there.
   */
  append(updateId: number, payload: string, chatId?: string): Promise<boolean>;
  /**
   * Waits, briefly, until what was appended so far is on a replica, where the store has replicas
   * (Sentinel, Cluster), so that a failover right after cannot lose an update already confirmed to
   * Telegram. Resolves `true` once a replica has it, or when the store has none; `false` when no
   * replica took it in time (a failover under way: the master may be a demoted one whose writes
   * will be thrown away), so that the caller confirms nothing and appends again.
   */
  confirmDurable(): Promise<boolean>;
  /** Up to `count` entries no consumer has had yet, now `consumer`'s; waits up to `blockMs` (≤ 1 s) for one. */
  take(consumer: string, count: number, blockMs: number): Promise<QueuedUpdate[]>;
  /** Entries another consumer took and has not acknowledged for `idleMs` (it died, say): now `consumer`'s. */
  reclaim(consumer: string, idleMs: number, count: number): Promise<QueuedUpdate[]>;
  /**
   * `consumer` is alive and still working on `holding`: their idle time starts again, so that
   * nobody reclaims them (a long answer is not a dead consumer). Resolves with the entries handed
   * to `consumer` that it does not hold (the reply to a take lost on the way, in a failover say),
   * handed to it again.
   */
  touch(consumer: string, holding: readonly string[]): Promise<QueuedUpdate[]>;
  /**
   * The entry's effect is stored: it leaves the queue and, with `markTurn`, its ticket is marked
   * done (`ordering.done`), in one step.
   */
  complete(entry: QueuedUpdate, markTurn: boolean): Promise<void>;
  /** The entries' effects are stored: they leave the queue. */
  ack(entryIds: readonly string[]): Promise<void>;
  /** An entry whose handling failed every time: moved to the dead letters (and out of the queue). */
  deadLetter(entry: QueuedUpdate, reason: string): Promise<void>;
  /** Entries appended and not yet acknowledged, taken or not. */
  backlog(): Promise<number>;
  /** The most recent dead letters, oldest first. */
  deadLetters(count: number): Promise<{ readonly updateId: number; readonly reason: string }[]>;
  /** The chats' lines the tickets of appended updates belong to: wait for a turn and mark it done here. */
  readonly ordering: ChatOrdering;
}

/**
 * A lease held by one process at a time, with a time to live: a holder that dies loses it once
 * the TTL passes, and another can take it. Used so that exactly one process polls Telegram.
 */
export interface Lease {
  /**
   * Takes the lease for `ttlMs` when nobody holds it, or extends it when `holder` already does.
   * Resolves whether `holder` holds it now.
   */
  acquire(holder: string, ttlMs: number): Promise<boolean>;
  /** Gives the lease up, if `holder` holds it. */
  release(holder: string): Promise<void>;
}

/** What the durable intake needs from storage (with Redis only): the shared queue and the poller's lease. */
export interface IntakeStores {
  readonly queue: UpdateQueue;
  readonly pollerLease: Lease;
}

// ─── Broadcast (messages to every process) ──────────────────────────────────────────────────

/**
 * Short messages to every process sharing the store, this one included: delivered at most once,
 * to the processes listening at that moment, and kept nowhere (Redis pub/sub; in memory, this
 * process). For requests that only the process holding some state can serve, such as a Stop press
 * for an answer another process is streaming.
 */
export interface Broadcast {
  publish(message: string): Promise<void>;
  /** Calls `listener` with every message published from now on. */
  subscribe(listener: (message: string) => void): void;
}

// ─── Process registry (heartbeats) ─────────────────────────────────────────────────────────

/** A process's last heartbeat: its id, what it reported about itself (JSON), and when. */
export interface ProcessBeat {
  readonly id: string;
  /** The JSON the process wrote (version, start time, mode …); opaque to storage. */
  readonly info: string;
  /** When it beat (epoch ms). */
  readonly at: number;
}

/**
 * The processes sharing the storage: each beats every few seconds with a time to live, and the
 * dashboard lists those whose beat has not expired. In memory only the process itself is there.
 */
export interface ProcessRegistry {
  /** Records `id` as alive until `now + ttlMs`, with `info`. */
  beat(id: string, info: string, now: number, ttlMs: number): Promise<void>;
  /** The processes whose last beat has not expired at `now`, in id order. */
  list(now: number): Promise<ProcessBeat[]>;
  /** Forgets `id` (a process stopping). */
  remove(id: string): Promise<void>;
}
