import { PROVIDER_ERROR_KINDS } from '../providers/types';
import type { AttemptOutcome, AttemptRecord, CounterSet } from './types';

/** Latencies kept per provider and per key, for percentiles: recent enough, and bounded. */
export const LATENCY_SAMPLES = 500;

export const FAILURE_OUTCOMES: readonly Exclude<AttemptOutcome, 'success'>[] = PROVIDER_ERROR_KINDS;

export function emptyCounters(): CounterSet {
  return { requests: 0, successes: 0, fallbacks: 0, inputTokens: 0, outputTokens: 0, failures: {}, latencies: [] };
}

/** The counters after one more attempt (pure, for the in-memory store). */
export function addAttempt(counters: CounterSet, record: AttemptRecord): CounterSet {
  const success = record.outcome === 'success';
  const failures = { ...counters.failures };
  if (record.outcome !== 'success') failures[record.outcome] = (failures[record.outcome] ?? 0) + 1;
  return {
    requests: counters.requests + 1,
    successes: counters.successes + (success ? 1 : 0),
    fallbacks: counters.fallbacks + (success && record.fallback ? 1 : 0),
    inputTokens: counters.inputTokens + (record.inputTokens ?? 0),
    outputTokens: counters.outputTokens + (record.outputTokens ?? 0),
    failures,
    latencies: success ? [record.latencyMs, ...counters.latencies].slice(0, LATENCY_SAMPLES) : counters.latencies,
  };
}
