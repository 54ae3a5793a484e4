import type { KeyLimits } from '../../providers/types';
import {
  compareScores,
  effectiveLimits,
  HOUR_BUCKETS,
  hourBucketOf,
  judge,
  MINUTE_MS,
  quotaMonth,
  SLOT_MARGIN_MS,
} from '../quota-rules';
import type {
  AcquireRequest,
  AcquireResult,
  BlockReason,
  KeyBlock,
  KeyUsage,
  QuotaObservation,
  QuotaStore,
  Settlement,
  WindowObservation,
} from '../../providers/ports';

interface MinuteEntry {
  readonly id: string;
  readonly at: number;
  tokens: number;
  readonly requests: number;
}

interface KeyState {
  /** Sorted by `at`, oldest first. */
  minute: MinuteEntry[];
  /** Running totals of `minute`, so admission does not rescan the window (it can be large for keys without limits). */
  requestsLastMinute: number;
  tokensLastMinute: number;
  day: string;
  requestsToday: number;
  tokensToday: number;
  /** The quota month (`2026-11`) and the requests counted in it. */
  month: string;
  requestsThisMonth: number;
  /** Tokens per minute bucket of the last hour (for `tokensPerHour`), oldest first. */
  hour: { bucket: number; tokens: number }[];
  learned: KeyLimits;
  block: { reason: BlockReason; until: number } | undefined;
}

/** When a window says nothing is left until a reset still to come: that reset; otherwise undefined. */
function exhaustedUntil(window: WindowObservation | undefined, now: number): number | undefined {
  return window?.remaining === 0 && window.resetAt !== undefined && window.resetAt > now ? window.resetAt : undefined;
}

/** The windows that block a key when exhausted, and why (a constant: observe runs on every answer). */
const BLOCKING_WINDOWS: readonly (readonly [keyof QuotaObservation, BlockReason])[] = [
  ['requestsPerDay', 'quota'],
  ['tokensPerDay', 'quota'],
  ['requestsPerMinute', 'cooldown'],
  ['tokensPerMinute', 'cooldown'],
  ['requests', 'cooldown'],
];

/** The quota store of one process: the same rules as the Redis one, in a Map. */
export class MemoryQuotaStore implements QuotaStore {
  private readonly states = new Map<string, KeyState>();
  /** How long a request stays in its key's window: a minute and the slot margin. */
  private readonly windowMs: number;

  /**
   * `slotMarginMs` exists for the benchmark that shows what the margin is for; everything else
   * keeps the default (the Redis store has it built into its scripts).
   */
  constructor(options: { readonly slotMarginMs?: number } = {}) {
    this.windowMs = MINUTE_MS + (options.slotMarginMs ?? SLOT_MARGIN_MS);
  }
  private phantomCounter = 0;

  async acquire(request: AcquireRequest): Promise<AcquireResult> {
    const blocks: KeyBlock[] = [];
    let best: { keyId: string; score: readonly number[] } | undefined;
    for (const candidate of request.candidates) {
      const state = this.stateOf(candidate.keyId, request.now, request.day);
      if (state.block !== undefined && state.block.until > request.now) {
        blocks.push({ keyId: candidate.keyId, reason: state.block.reason, until: state.block.until });
        continue;
      }
      const verdict = judge(
        effectiveLimits(candidate.limits, state.learned),
        {
          minute: state.minute,
          requestsLastMinute: state.requestsLastMinute,
          tokensLastMinute: state.tokensLastMinute,
          requestsToday: state.requestsToday,
          tokensToday: state.tokensToday,
          requestsThisMonth: state.requestsThisMonth,
          hour: state.hour,
        },
        request.tokens,
        request.now,
        this.windowMs,
      );
      if (!verdict.admissible) {
        blocks.push({ keyId: candidate.keyId, reason: verdict.reason, until: verdict.until });
        continue;
      }
      if (best === undefined || compareScores(verdict.score, best.score) < 0) {
        best = { keyId: candidate.keyId, score: verdict.score };
      }
    }
    if (best === undefined) return { ok: false, blocks };
    const state = this.stateOf(best.keyId, request.now, request.day);
    addEntry(state, { id: request.reservationId, at: request.now, tokens: request.tokens, requests: 1 });
    state.requestsToday += 1;
    state.tokensToday += request.tokens;
    state.requestsThisMonth += 1;
    addToHour(state, hourBucketOf(request.now), request.tokens);
    return { ok: true, keyId: best.keyId };
  }

  async settle(settlement: Settlement): Promise<void> {
    const state = this.stateOf(settlement.keyId, settlement.now, settlement.day);
    if (settlement.uncount === true) {
      const index = indexFromNewest(state.minute, settlement.reservationId);
      const entry = index === -1 ? undefined : state.minute[index];
      if (entry !== undefined) {
        state.minute.splice(index, 1);
        state.requestsLastMinute -= entry.requests;
        state.tokensLastMinute -= entry.tokens;
        addToHour(state, hourBucketOf(entry.at), -entry.tokens);
      }
      state.requestsToday = Math.max(0, state.requestsToday - 1);
      state.tokensToday = Math.max(0, state.tokensToday - settlement.reservedTokens);
      state.requestsThisMonth = Math.max(0, state.requestsThisMonth - 1);
      return;
    }
    const entry = findFromNewest(state.minute, settlement.reservationId);
    const difference = settlement.actualTokens - settlement.reservedTokens;
    if (entry !== undefined) {
      const corrected = Math.max(0, entry.tokens + difference);
      state.tokensLastMinute += corrected - entry.tokens;
      addToHour(state, hourBucketOf(entry.at), corrected - entry.tokens);
      entry.tokens = corrected;
    }
    state.tokensToday = Math.max(0, state.tokensToday + difference);
  }

  async block(keyId: string, reason: BlockReason, until: number, now: number): Promise<void> {
    const state = this.stateOf(keyId, now, undefined);
    if (state.block === undefined || state.block.until <= now || until > state.block.until) {
      state.block = { reason, until };
    }
  }

  async unblock(keyId: string): Promise<void> {
    const state = this.states.get(keyId);
    if (state !== undefined) state.block = undefined;
  }

  async observe(keyId: string, observation: QuotaObservation, now: number, day: string): Promise<void> {
    const state = this.stateOf(keyId, now, day);
    const learn = (field: keyof KeyLimits, window: WindowObservation | undefined): void => {
      // Replaced only when it changes: the same headers come back with every answer.
      if (window?.limit !== undefined && window.limit > 0 && state.learned[field] !== window.limit) {
        state.learned = { ...state.learned, [field]: window.limit };
      }
    };
    learn('requestsPerMinute', observation.requestsPerMinute);
    learn('requestsPerDay', observation.requestsPerDay);
    learn('tokensPerMinute', observation.tokensPerMinute);
    learn('tokensPerDay', observation.tokensPerDay);

    const usedOf = (window: WindowObservation | undefined): number | undefined =>
      window?.limit !== undefined && window.remaining !== undefined ? window.limit - window.remaining : undefined;
    const requestsUsedToday = usedOf(observation.requestsPerDay);
    if (requestsUsedToday !== undefined) state.requestsToday = Math.max(state.requestsToday, requestsUsedToday);
    const tokensUsedToday = usedOf(observation.tokensPerDay);
    if (tokensUsedToday !== undefined) state.tokensToday = Math.max(state.tokensToday, tokensUsedToday);

    // Requests and tokens others spent through this key in the current minute (another bot, a
    // script sharing the key) show up as phantom entries that leave the window when it resets.
    const requestsUsedThisMinute = usedOf(observation.requestsPerMinute);
    const missingRequests = (requestsUsedThisMinute ?? 0) - state.requestsLastMinute;
    for (let index = 0; index < missingRequests; index++) {
      addEntry(state, this.phantom(now, observation.requestsPerMinute?.resetAt, 0, 1));
    }
    const tokensUsedThisMinute = usedOf(observation.tokensPerMinute);
    const counted = state.tokensLastMinute;
    if (tokensUsedThisMinute !== undefined && tokensUsedThisMinute > counted) {
      addEntry(state, this.phantom(now, observation.tokensPerMinute?.resetAt, tokensUsedThisMinute - counted, 0));
    }

    // An exhausted window blocks the key until it resets.
    for (const [field, reason] of BLOCKING_WINDOWS) {
      const resetAt = exhaustedUntil(observation[field], now);
      if (resetAt !== undefined) await this.block(keyId, reason, resetAt, now);
    }
  }

  async usage(keyIds: readonly string[], now: number, day: string): Promise<KeyUsage[]> {
    return keyIds.map((keyId) => {
      const state = this.stateOf(keyId, now, day);
      return {
        keyId,
        requestsLastMinute: state.requestsLastMinute,
        tokensLastMinute: state.tokensLastMinute,
        requestsToday: state.requestsToday,
        tokensToday: state.tokensToday,
        requestsThisMonth: state.requestsThisMonth,
        learnedLimits: state.learned,
        block: state.block !== undefined && state.block.until > now ? { ...state.block } : undefined,
      };
    });
  }

  /** The key's state with expired minute entries dropped and the day (and month) rolled over. */
  private stateOf(keyId: string, now: number, day: string | undefined): KeyState {
    let state = this.states.get(keyId);
    if (state === undefined) {
      state = {
        minute: [],
        requestsLastMinute: 0,
        tokensLastMinute: 0,
        day: day ?? '',
        requestsToday: 0,
        tokensToday: 0,
        month: day === undefined ? '' : quotaMonth(day),
        requestsThisMonth: 0,
        hour: [],
        learned: {},
        block: undefined,
      };
      this.states.set(keyId, state);
    }
    const cutoff = now - this.windowMs;
    let expired = 0;
    while (expired < state.minute.length && (state.minute[expired]?.at ?? 0) <= cutoff) {
      const entry = state.minute[expired]!;
      state.requestsLastMinute -= entry.requests;
      state.tokensLastMinute -= entry.tokens;
      expired++;
    }
    if (expired > 0) state.minute.splice(0, expired);
    const firstLive = hourBucketOf(now) - HOUR_BUCKETS + 1;
    while (state.hour.length > 0 && state.hour[0]!.bucket < firstLive) state.hour.shift();
    if (day !== undefined && state.day !== day) {
      state.day = day;
      state.requestsToday = 0;
      state.tokensToday = 0;
      if (state.month !== quotaMonth(day)) {
        state.month = quotaMonth(day);
        state.requestsThisMonth = 0;
      }
    }
    return state;
  }

  private phantom(now: number, resetAt: number | undefined, tokens: number, requests: number): MinuteEntry {
    // Placed so that it leaves the sliding window when the provider's window resets.
    const at = resetAt === undefined ? now : Math.min(now, resetAt - this.windowMs);
    return { id: `phantom-${++this.phantomCounter}`, at, tokens, requests };
  }
}

/** Inserts in time order (almost always at the end) and keeps the running totals. */
function addEntry(state: KeyState, entry: MinuteEntry): void {
  const entries = state.minute;
  let index = entries.length;
  while (index > 0 && (entries[index - 1]?.at ?? 0) > entry.at) index--;
  entries.splice(index, 0, entry);
  state.requestsLastMinute += entry.requests;
  state.tokensLastMinute += entry.tokens;
}

/** Adds (or with a negative count removes) tokens in an hour bucket, never below zero. */
function addToHour(state: KeyState, bucket: number, tokens: number): void {
  if (tokens === 0) return;
  const entry = state.hour.find((candidate) => candidate.bucket === bucket);
  if (entry !== undefined) {
    entry.tokens = Math.max(0, entry.tokens + tokens);
    return;
  }
  if (tokens < 0) return;
  let index = state.hour.length;
  while (index > 0 && state.hour[index - 1]!.bucket > bucket) index--;
  state.hour.splice(index, 0, { bucket, tokens });
}

/** Reservations are settled soon after they are made: look from the newest end. */
function indexFromNewest(entries: readonly MinuteEntry[], id: string): number {
  for (let index = entries.length - 1; index >= 0; index--) if (entries[index]?.id === id) return index;
  return -1;
}

function findFromNewest(entries: readonly MinuteEntry[], id: string): MinuteEntry | undefined {
  return entries[indexFromNewest(entries, id)];
}
