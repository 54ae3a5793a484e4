import type { ProcessBeat } from '../../storage';
import type { IntakeStatus } from '../metrics';
import type { PoolStats } from '../services/pool-stats';
import type { Timeline, TimelineSeries, TimelineSummary } from './timeline';

/** What a process says about itself in its heartbeat and on the page. */
export interface ProcessInfo {
  readonly id: string;
  readonly version: string;
  readonly startedAt: number;
  readonly mode: 'polling' | 'webhook';
  readonly storage: 'memory' | 'redis';
  readonly node: string;
}

/** Where the dashboard reads from: plain data, like the metrics. */
export interface DashboardSources {
  readonly process: ProcessInfo;
  readonly now: () => number;
  /** The pool's day figures (every process's, from the stats store), with the top users. */
  readonly poolStats: () => Promise<PoolStats>;
  readonly timeline: Timeline;
  readonly intake?: () => IntakeStatus;
  /** The processes sharing the storage (their heartbeats). */
  readonly processes: () => Promise<readonly ProcessBeat[]>;
  readonly storageUp: () => boolean;
  readonly memoryBytes?: () => number;
}

/** How many minutes the charts cover at most; a younger process shows its life, 15 minutes at least. */
export const CHART_MINUTES = 180;
const CHART_MIN_MINUTES = 15;

/** The JSON behind the page (`/dashboard/data.json`): masked keys and user ids only, no secret. */
export interface DashboardData {
  readonly generatedAt: number;
  readonly process: ProcessInfo & {
    readonly uptimeSeconds: number;
    readonly memoryBytes: number | undefined;
    readonly poller: boolean | undefined;
  };
  readonly processes: readonly {
    readonly id: string;
    readonly self: boolean;
    readonly lastBeatAt: number;
    readonly version: string | undefined;
    readonly startedAt: number | undefined;
    readonly uptimeSeconds: number | undefined;
    readonly mode: string | undefined;
  }[];
  readonly storageUp: boolean;
  readonly pool: {
    readonly day: string;
    readonly dailyCapacity: number;
    readonly leftToday: number;
    readonly usedToday: number;
    readonly keysWithUnknownLimit: number;
    readonly providers: readonly {
      readonly name: string;
      readonly model: string;
      readonly breaker: string;
      readonly breakerOpenUntil: number | undefined;
      readonly dailyCapacity: number | undefined;
      readonly leftToday: number | undefined;
      readonly requestsToday: number;
      readonly successRate: number | undefined;
      readonly latencyP50Ms: number | undefined;
      readonly latencyP95Ms: number | undefined;
      readonly fallbacks: number;
      readonly hedges: number;
      readonly failures: Readonly<Record<string, number>>;
      readonly keys: readonly {
        readonly maskedKey: string;
        readonly requestsToday: number;
        readonly dailyLimit: number | undefined;
        readonly leftToday: number | undefined;
        readonly blocked: { readonly reason: string; readonly until: number } | undefined;
      }[];
    }[];
  };
  readonly users: { readonly activeToday: number; readonly top: readonly { userId: string; requests: number }[] };
  readonly intake: IntakeStatus | undefined;
  /** This process's own attempts, per minute (each process keeps its own). */
  readonly timeline: TimelineSeries & {
    readonly scope: 'process';
    readonly lastHour: TimelineSummary;
    readonly window: TimelineSummary;
  };
}

export async function collectDashboardData(sources: DashboardSources): Promise<DashboardData> {
  const now = sources.now();
  const [pool, beats] = await Promise.all([
    sources.poolStats(),
    sources.processes().catch((): readonly ProcessBeat[] => []),
  ]);
  const intake = sources.intake?.();
  const self = sources.process;
  const processes = beats.map((beat) => {
    const info = parseInfo(beat.info);
    return {
      id: beat.id,
      self: beat.id === self.id,
      lastBeatAt: beat.at,
      version: info?.version,
      startedAt: info?.startedAt,
      uptimeSeconds: info?.startedAt === undefined ? undefined : Math.round((now - info.startedAt) / 1000),
      mode: info?.mode,
    };
  });
  return {
    generatedAt: now,
    process: {
      ...self,
      uptimeSeconds: Math.round((now - self.startedAt) / 1000),
      memoryBytes: sources.memoryBytes?.(),
      poller: intake?.polling,
    },
    processes,
    storageUp: sources.storageUp(),
    pool: {
      day: pool.day,
      dailyCapacity: pool.dailyCapacity,
      leftToday: pool.leftToday,
      usedToday: pool.providers.reduce(
        (sum, provider) => sum + provider.keys.reduce((keys, key) => keys + key.requestsToday, 0),
        0,
      ),
      keysWithUnknownLimit: pool.keysWithUnknownLimit,
      providers: pool.providers.map((provider) => ({
        name: provider.name,
        model: provider.model,
        breaker: provider.breaker,
        breakerOpenUntil: provider.breakerOpenUntil,
        dailyCapacity: provider.dailyCapacity,
        leftToday: provider.leftToday,
        requestsToday: provider.keys.reduce((sum, key) => sum + key.requestsToday, 0),
        successRate: provider.counters.successRate,
        latencyP50Ms: provider.counters.latencyP50Ms,
        latencyP95Ms: provider.counters.latencyP95Ms,
        fallbacks: provider.counters.fallbacks,
        hedges: provider.counters.hedges,
        failures: provider.counters.failures,
        keys: provider.keys.map((key) => ({
          maskedKey: key.maskedKey,
          requestsToday: key.requestsToday,
          dailyLimit: key.dailyLimit,
          leftToday: key.leftToday,
          blocked: key.blocked === undefined ? undefined : { reason: key.blocked.reason, until: key.blocked.until },
        })),
      })),
    },
    users: {
      activeToday: pool.activeUsersToday,
      top: pool.topUsers.map(({ userId, requests }) => ({ userId, requests })),
    },
    intake,
    timeline: {
      scope: 'process',
      ...sources.timeline.series(
        Math.min(CHART_MINUTES, Math.max(CHART_MIN_MINUTES, Math.ceil((now - self.startedAt) / 60_000) + 1)),
      ),
      lastHour: sources.timeline.summary(60),
      window: sources.timeline.summary(sources.timeline.keepMinutes),
    },
  };
}

/** A heartbeat's info, as written by `processInfoJson`; undefined when unreadable. */
function parseInfo(info: string): Partial<ProcessInfo> | undefined {
  try {
    const parsed = JSON.parse(info) as Record<string, unknown>;
    return {
      ...(typeof parsed.version === 'string' ? { version: parsed.version } : {}),
      ...(typeof parsed.startedAt === 'number' ? { startedAt: parsed.startedAt } : {}),
      ...(typeof parsed.mode === 'string' && (parsed.mode === 'polling' || parsed.mode === 'webhook')
        ? { mode: parsed.mode }
        : {}),
    };
  } catch {
    return undefined;
  }
}

/** What a process writes in its heartbeat. */
export function processInfoJson(info: ProcessInfo): string {
  return JSON.stringify({ version: info.version, startedAt: info.startedAt, mode: info.mode, storage: info.storage });
}
