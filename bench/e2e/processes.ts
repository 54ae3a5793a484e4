import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { type SpawnedProcess, spawnBuilt } from '../../tests/helpers/spawn-process';

export { DIST, DIST_TOOLS, PROJECT_ROOT } from '../../tests/helpers/built';

/**
 * A bot under test: a built entry point (an absolute path into dist/ or dist-tools/) run with
 * `node` and only the given environment, in an empty directory (no developer `.env` is read).
 * Only the last lines of output are kept, for error messages (a benchmark of 10,000 updates must
 * not keep 10,000 log lines); they are not parsed.
 */
export type BenchProcess = SpawnedProcess;

const TAIL_LINES = 30;
/** How long a bot may take to finish after SIGTERM before it is killed. */
export const STOP_GRACE_MS = 12_000;

export function startBenchProcess(
  entry: string,
  env: Record<string, string>,
  nodeArgs: readonly string[] = [],
): BenchProcess {
  return spawnBuilt(entry, { env, nodeArgs, keepLines: TAIL_LINES, directoryPrefix: 'switchboard-bench-' });
}

export interface MemorySample {
  /** Resident set size now, in bytes. */
  readonly rssBytes: number;
  /** The highest resident set size of the process so far (VmHWM), in bytes. */
  readonly peakRssBytes: number;
}

/** RSS of a process from /proc/<pid>/status (Linux), or from `ps` elsewhere (peak = current then). */
export function sampleMemory(pid: number): MemorySample {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kilobytes = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
    const rss = kilobytes('VmRSS') * 1024;
    const peak = kilobytes('VmHWM') * 1024;
    if (Number.isFinite(rss)) return { rssBytes: rss, peakRssBytes: Number.isFinite(peak) ? peak : rss };
  } catch {
    // Not Linux, or the process is gone: ask ps.
  }
  const rss = Number(execFileSync('ps', ['-o', 'rss=', '-p', String(pid)], { encoding: 'utf8' }).trim()) * 1024;
  return { rssBytes: rss, peakRssBytes: rss };
}

let clockTicks: number | undefined;

/** CPU time (user + system) a process has used so far, in milliseconds; NaN when unknown. */
export function cpuTimeMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces; the fields after it are space-separated.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks;
  } catch {
    return Number.NaN;
  }
}

/** Tracks the peak RSS of a process by sampling it every `intervalMs` (VmHWM is used when available). */
export class PeakMemory {
  private peak = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pid: number,
    intervalMs = 100,
  ) {
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  sample(): MemorySample | undefined {
    try {
      const sample = sampleMemory(this.pid);
      this.peak = Math.max(this.peak, sample.rssBytes, sample.peakRssBytes);
      return sample;
    } catch {
      return undefined;
    }
  }

  /** The peak so far (sampled once more now); stops sampling when `stop` is true. */
  peakBytes(stop = false): number {
    this.sample();
    if (stop) clearInterval(this.timer);
    return this.peak;
  }
}
