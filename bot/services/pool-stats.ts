import {
  type BreakerState,
  type CounterSet,
  type HealthSummary,
  type KeyUsage,
  percentile,
  type QuotaStore,
  quotaDay,
  type RouterSnapshot,
  type StatsStore,
} from '../../providers';

export interface KeyStats {
  readonly maskedKey: string;
  readonly requestsToday: number;
  /** The key's daily request limit (announced by the provider, else configured); undefined when unknown. */
  readonly dailyLimit: number | undefined;
  /** Requests left today, estimated from the limit, our count and the provider's headers. */
  readonly leftToday: number | undefined;
  /** Requests this quota month, and the key's monthly limit (undefined when it has none). */
  readonly requestsThisMonth: number;
  readonly monthlyLimit: number | undefined;
  readonly blocked: { readonly reason: string; readonly until: number } | undefined;
  readonly counters: CounterSummary;
}

export interface CounterSummary {
  readonly requests: number;
  readonly successes: number;
  readonly successRate: number | undefined;
  readonly fallbacks: number;
  /** Answers that came from a hedge. */
  readonly hedges: number;
  readonly failures: CounterSet['failures'];
  readonly latencyP50Ms: number | undefined;
  readonly latencyP95Ms: number | undefined;
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** Transcriptions answered and the seconds of audio they held; chat answers to requests with media. */
  readonly transcriptions: number;
  readonly audioSeconds: number;
  readonly mediaRequests: number;
}

export interface ProviderStats {
  readonly name: string;
  readonly model: string;
  readonly breaker: BreakerState;
  /** While the breaker is open: when it lets a probe through (epoch ms). */
  readonly breakerOpenUntil: number | undefined;
  readonly health: HealthSummary;
  readonly keys: readonly KeyStats[];
  readonly counters: CounterSummary;
  readonly dailyCapacity: number | undefined;
  readonly leftToday: number | undefined;
}

export interface PoolStats {
  readonly day: string;
  readonly providers: readonly ProviderStats[];
  /** Σ daily request limits of the keys not set aside as bad; keys without a known limit are counted apart. */
  readonly dailyCapacity: number;
  readonly leftToday: number;
  readonly keysWithUnknownLimit: number;
  readonly activeUsersToday: number;
  readonly topUsers: readonly { readonly userId: string; readonly requests: number }[];
}

/**
 * The figures `/stats`, `/readyz` and `/metrics` show: the router's snapshot (breakers, health,
 * keys), live key state from the quota store and counters from the stats store.
 */
export async function collectPoolStats(
  router: RouterSnapshot,
  quotaStore: QuotaStore,
  statsStore: StatsStore,
  topUsers = 5,
): Promise<PoolStats> {
  const now = router.at;
  const day = quotaDay(now, 'UTC');
  const snapshot = await statsStore.read(day, topUsers);
  let dailyCapacity = 0;
  let leftToday = 0;
  let keysWithUnknownLimit = 0;
  const providers: ProviderStats[] = [];

  for (const provider of router.providers) {
    const usages = await quotaStore.usage(
      provider.keys.map((key) => key.keyId),
      now,
      quotaDay(now, provider.dailyResetZone),
    );
    const keys = provider.keys.map((key, index): KeyStats => {
      const usage = usages[index] as KeyUsage;
      const dailyLimit = usage.learnedLimits.requestsPerDay ?? provider.limits.requestsPerDay;
      const exhausted = usage.block !== undefined && (usage.block.reason === 'quota' || usage.block.reason === 'bad');
      const leftForKey =
        dailyLimit === undefined ? undefined : exhausted ? 0 : Math.max(0, dailyLimit - usage.requestsToday);
      if (usage.block?.reason !== 'bad') {
        if (dailyLimit === undefined) keysWithUnknownLimit += 1;
        else dailyCapacity += dailyLimit;
        leftToday += leftForKey ?? 0;
      }
      return {
        maskedKey: key.maskedKey,
        requestsToday: usage.requestsToday,
        dailyLimit,
        leftToday: leftForKey,
        requestsThisMonth: usage.requestsThisMonth,
        monthlyLimit: usage.learnedLimits.requestsPerMonth ?? provider.limits.requestsPerMonth,
        blocked: usage.block,
        // The key's attempts in every model of the provider (its transcription model's too).
        counters: summarize(merged([key.keyId, ...(key.laneKeyIds ?? [])].map((keyId) => snapshot.keys[keyId]))),
      };
    });
    const known = keys.filter((key) => key.dailyLimit !== undefined && key.blocked?.reason !== 'bad');
    providers.push({
      name: provider.name,
      model: provider.model,
      breaker: provider.breaker,
      breakerOpenUntil: provider.breakerOpenUntil,
      health: provider.health,
      keys,
      counters: summarize(snapshot.providers[provider.name]),
      dailyCapacity: known.length === 0 ? undefined : known.reduce((sum, key) => sum + (key.dailyLimit ?? 0), 0),
      leftToday: known.length === 0 ? undefined : known.reduce((sum, key) => sum + (key.leftToday ?? 0), 0),
    });
  }
  return {
    day,
    providers,
    dailyCapacity,
    leftToday,
    keysWithUnknownLimit,
    activeUsersToday: snapshot.activeUsers,
    topUsers: snapshot.topUsers,
  };
}

/** The sum of several counter sets (one key's in several models), latencies most recent first. */
function merged(sets: readonly (CounterSet | undefined)[]): CounterSet | undefined {
  const present = sets.filter((set): set is CounterSet => set !== undefined);
  if (present.length <= 1) return present[0];
  const sum = (field: 'requests' | 'successes' | 'fallbacks' | 'inputTokens' | 'outputTokens' | 'hedges') =>
    present.reduce((total, set) => total + set[field], 0);
  const media = (field: 'transcriptions' | 'audioSeconds' | 'mediaRequests') =>
    present.reduce((total, set) => total + (set[field] ?? 0), 0);
  const failures: Partial<Record<string, number>> = {};
  for (const set of present) {
    for (const [kind, count] of Object.entries(set.failures)) failures[kind] = (failures[kind] ?? 0) + (count ?? 0);
  }
  return {
    requests: sum('requests'),
    successes: sum('successes'),
    fallbacks: sum('fallbacks'),
    inputTokens: sum('inputTokens'),
    outputTokens: sum('outputTokens'),
    hedges: sum('hedges'),
    transcriptions: media('transcriptions'),
    audioSeconds: media('audioSeconds'),
    mediaRequests: media('mediaRequests'),
    failures: failures as CounterSet['failures'],
    // Each set's samples are most recent first; together they are a sample of the key's latencies.
    latencies: present.flatMap((set) => set.latencies),
  };
}

function summarize(counters: CounterSet | undefined): CounterSummary {
  const latencies = counters?.latencies ?? [];
  return {
    requests: counters?.requests ?? 0,
    successes: counters?.successes ?? 0,
    successRate: counters === undefined || counters.requests === 0 ? undefined : counters.successes / counters.requests,
    fallbacks: counters?.fallbacks ?? 0,
    hedges: counters?.hedges ?? 0,
    failures: counters?.failures ?? {},
    latencyP50Ms: percentile(latencies, 0.5),
    latencyP95Ms: percentile(latencies, 0.95),
    inputTokens: counters?.inputTokens ?? 0,
    outputTokens: counters?.outputTokens ?? 0,
    transcriptions: counters?.transcriptions ?? 0,
    audioSeconds: counters?.audioSeconds ?? 0,
    mediaRequests: counters?.mediaRequests ?? 0,
  };
}
