import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** The built tree (this file runs from dist/bench/e2e, or from bench/e2e under jest). */
export const DIST =
  path.basename(path.resolve(__dirname, '../..')) === 'dist'
    ? path.resolve(__dirname, '../..')
    : path.resolve(__dirname, '../../dist');

/**
 * A bot under test: a built entry point run with `node` and only the given environment, in an
 * empty directory (no developer `.env` is read). Output is drained; only the last lines are kept,
 * for error messages (a benchmark of 10,000 updates must not keep 10,000 log lines).
 */
export interface BenchProcess {
  readonly pid: number;
  /** The last lines of output (stdout and stderr). */
  tail(): string[];
  /** Lines of output seen so far. */
  readonly lineCount: number;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
  readonly exited: Promise<number | null>;
}

const TAIL_LINES = 30;

export function startBenchProcess(
  script: string,
  env: Record<string, string>,
  nodeArgs: readonly string[] = [],
): BenchProcess {
  const directory = mkdtempSync(path.join(tmpdir(), 'switchboard-bench-'));
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, path.join(DIST, script)], {
    cwd: directory,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`could not start ${script}`);
  const lines: string[] = [];
  let lineCount = 0;
  const collect = (stream: NodeJS.ReadableStream | null): void => {
    let pending = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      pending += chunk;
      const complete = pending.split('\n');
      pending = complete.pop() ?? '';
      for (const line of complete) {
        if (line === '') continue;
        lineCount++;
        lines.push(line);
        if (lines.length > TAIL_LINES) lines.shift();
      }
    });
  };
  collect(child.stdout);
  collect(child.stderr);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      rmSync(directory, { recursive: true, force: true });
      resolve(code);
    });
  });
  return {
    pid: child.pid,
    tail: () => [...lines],
    get lineCount() {
      return lineCount;
    },
    exited,
    stop: async (graceMs = 12_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
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
