import { PROVIDER_ERROR_KINDS } from '../providers/types';
import type { AttemptOutcome, AttemptRecord, CounterSet } from '../providers/ports';

/** Latencies kept per provider and per key, for percentiles: recent enough, and bounded. */
export const LATENCY_SAMPLES = 500;

export const FAILURE_OUTCOMES: readonly Exclude<AttemptOutcome, 'success'>[] = PROVIDER_ERROR_KINDS;

/** Counters as the in-memory store keeps them: updated in place, latencies oldest first. */
export interface MutableCounters {
  requests: number;
  successes: number;
  fallbacks: number;
  inputTokens: number;
  outputTokens: number;
  hedges: number;
  transcriptions: number;
  audioSeconds: number;
  mediaRequests: number;
  failures: Partial<Record<Exclude<AttemptOutcome, 'success'>, number>>;
  latencies: number[];
}

function emptyCounters(): MutableCounters {
  return {
    requests: 0,
    successes: 0,
    fallbacks: 0,
    inputTokens: 0,
    outputTokens: 0,
    hedges: 0,
    transcriptions: 0,
    audioSeconds: 0,
    mediaRequests: 0,
    failures: {},
    latencies: [],
  };
}

/** Counts one more attempt, in place (no copy of the latency samples per attempt). */
function addAttempt(counters: MutableCounters, record: AttemptRecord): void {
  counters.requests += 1;
  counters.inputTokens += record.inputTokens ?? 0;
  counters.outputTokens += record.outputTokens ?? 0;
  if (record.outcome !== 'success') {
    counters.failures[record.outcome] = (counters.failures[record.outcome] ?? 0) + 1;
    return;
  }
  counters.successes += 1;
  if (record.fallback) counters.fallbacks += 1;
  if (record.hedge === true) counters.hedges += 1;
  // What media cost is counted for answers: transcriptions with their audio seconds, media chats.
  if (record.transcription === true) {
    counters.transcriptions += 1;
    counters.audioSeconds += Math.ceil(record.audioSeconds ?? 0);
  } else if (record.media === true) {
    counters.mediaRequests += 1;
  }
  counters.latencies.push(record.latencyMs);
  // Trimmed in batches: amortised O(1) per attempt.
  if (counters.latencies.length >= 2 * LATENCY_SAMPLES) counters.latencies.splice(0, LATENCY_SAMPLES);
}

/** A read-only copy, latencies most recent first and capped, as StatsStore.read returns them. */
export function snapshotCounters(counters: MutableCounters): CounterSet {
  return {
    requests: counters.requests,
    successes: counters.successes,
    fallbacks: counters.fallbacks,
    inputTokens: counters.inputTokens,
    outputTokens: counters.outputTokens,
    hedges: counters.hedges,
    transcriptions: counters.transcriptions,
    audioSeconds: counters.audioSeconds,
    mediaRequests: counters.mediaRequests,
    failures: { ...counters.failures },
    latencies: counters.latencies.slice(-LATENCY_SAMPLES).reverse(),
  };
}

/** One day's counts: per provider and per key their counters, per user their requests. */
export interface DayCounters {
  readonly providers: Map<string, MutableCounters>;
  readonly keys: Map<string, MutableCounters>;
  readonly users: Map<string, number>;
}

export function emptyDayCounters(): DayCounters {
  return { providers: new Map(), keys: new Map(), users: new Map() };
}

/** Counts one more attempt against its provider and its key. */
export function countAttempt(day: DayCounters, record: AttemptRecord): void {
  addAttempt(countersOf(day.providers, record.provider), record);
  addAttempt(countersOf(day.keys, record.keyId), record);
}

/** Counts one more request of a user. */
export function countUserRequest(day: DayCounters, userId: string): void {
  day.users.set(userId, (day.users.get(userId) ?? 0) + 1);
}

function countersOf(group: Map<string, MutableCounters>, name: string): MutableCounters {
  let counters = group.get(name);
  if (counters === undefined) {
    counters = emptyCounters();
    group.set(name, counters);
  }
  return counters;
}
