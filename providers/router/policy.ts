import type { HealthSummary } from './health';

/**
 * The order in which a request tries providers.
 * - `priority`: the configured order (PROVIDER_ORDER).
 * - `fastest`: healthy providers by recent latency, penalised by failures; with a small chance
 *   of trying another one first, so a provider that recovered (or was never tried) is noticed.
 * Providers with open breakers or no free key are skipped later, by the router.
 */
export type RoutingMode = 'priority' | 'fastest';

export interface PolicyCandidate {
  readonly name: string;
  readonly health: HealthSummary;
}

const EXPLORATION_RATE = 0.05;
/** Latency assumed for a provider without samples: optimistic, so it gets tried. */
const UNKNOWN_LATENCY_MS = 0;

export function orderProviders(
  candidates: readonly PolicyCandidate[],
  mode: RoutingMode,
  random: () => number,
): PolicyCandidate[] {
  if (mode === 'priority' || candidates.length < 2) return [...candidates];
  const scored = candidates.map((candidate, index) => ({ candidate, index, score: fastestScore(candidate.health) }));
  scored.sort((a, b) => a.score - b.score || a.index - b.index);
  const ordered = scored.map((entry) => entry.candidate);
  if (random() < EXPLORATION_RATE) {
    const pick = 1 + Math.floor(random() * (ordered.length - 1));
    const [explored] = ordered.splice(pick, 1);
    if (explored !== undefined) ordered.unshift(explored);
  }
  return ordered;
}

/** Expected time to a good answer: latency divided by the chance of success. Lower is better. */
function fastestScore(health: HealthSummary): number {
  if (health.samples === 0) return UNKNOWN_LATENCY_MS;
  const latency = health.firstTokenP50Ms ?? health.latencyP50Ms ?? 60_000;
  const successRate = Math.max(health.successRate ?? 0, 0.05);
  return latency / successRate;
}
