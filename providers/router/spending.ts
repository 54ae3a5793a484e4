/**
 * Reset-aware spending. Providers reset their daily quotas at different moments (midnight UTC for
 * most, midnight Pacific for some), and in plain priority order a provider late in the order may
 * reach its reset with quota left, which then lapses. A provider whose quota left today cannot be
 * spent before its reset even at its full per-minute rate will lapse whatever happens later, so
 * spending it now costs nothing: such providers go first, the soonest reset first; every other
 * provider keeps its place in the configured order.
 */
import type { KeyUsage } from '../ports';
import type { KeyLimits } from '../types';

/** What the router knows of one provider's daily quota, read from the quota store now and then. */
export interface QuotaOutlook {
  /** When it was read. */
  readonly at: number;
  /** Requests left today over the usable keys; `undefined` when a key has no known daily limit. */
  readonly leftToday: number | undefined;
  /** Requests a minute over the usable keys; `undefined` when a key has no known per-minute limit. */
  readonly perMinute: number | undefined;
  /** When the provider's quota day turns. */
  readonly resetsAt: number;
}

/** A provider's outlook from its keys' usage (limits the provider announced win over configured ones). */
export function outlookOf(
  usages: readonly KeyUsage[],
  configured: KeyLimits,
  resetsAt: number,
  at: number,
): QuotaOutlook {
  let leftToday: number | undefined = 0;
  let perMinute: number | undefined = 0;
  for (const usage of usages) {
    // A rejected key adds nothing; one out of quota adds nothing today.
    if (usage.block?.reason === 'bad' || (usage.block?.reason === 'quota' && usage.block.until >= resetsAt)) continue;
    const perDay = usage.learnedLimits.requestsPerDay ?? configured.requestsPerDay;
    const rpm = usage.learnedLimits.requestsPerMinute ?? configured.requestsPerMinute;
    leftToday =
      perDay === undefined || leftToday === undefined
        ? undefined
        : leftToday + Math.max(0, perDay - usage.requestsToday);
    perMinute = rpm === undefined || perMinute === undefined ? undefined : perMinute + rpm;
  }
  return { at, leftToday, perMinute, resetsAt };
}

/** Whether quota is left that cannot all be spent before the reset, even at the full per-minute rate. */
export function willLapse(outlook: QuotaOutlook | undefined, now: number): boolean {
  if (outlook === undefined || outlook.leftToday === undefined || outlook.perMinute === undefined) return false;
  if (outlook.leftToday <= 0 || outlook.perMinute <= 0 || outlook.resetsAt <= now) return false;
  const minutesLeft = (outlook.resetsAt - now) / 60_000;
  return outlook.leftToday >= outlook.perMinute * minutesLeft;
}

/**
 * The providers in `ordered`, with those whose quota will lapse moved to the front (soonest reset
 * first); the others keep their order. Returns `ordered` itself when nothing moves.
 */
export function spendLapsingFirst<P>(
  ordered: readonly P[],
  outlook: (provider: P) => QuotaOutlook | undefined,
  now: number,
): readonly P[] {
  // On every request, and nearly always nothing moves: look before allocating.
  if (!ordered.some((provider) => willLapse(outlook(provider), now))) return ordered;
  const lapsing = ordered.filter((provider) => willLapse(outlook(provider), now));
  lapsing.sort((a, b) => (outlook(a)?.resetsAt ?? 0) - (outlook(b)?.resetsAt ?? 0));
  return [...lapsing, ...ordered.filter((provider) => !lapsing.includes(provider))];
}
