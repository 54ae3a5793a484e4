import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * A built entry point (`node dist/bot/main.js`, a benchmark's bot …) run as users run it: with
 * `node`, only the environment given (and PATH), in an empty temporary directory (so no developer
 * `.env` is read), its output collected line by line. The one spawner of the test kit: the e2e
 * tests (bot-process.ts), the end-to-end benchmark (bench/e2e/processes.ts) and the demo use it.
 */
export interface SpawnOptions {
  /** The child's environment besides PATH: nothing else of ours (no real key) reaches it. */
  readonly env: Record<string, string>;
  /** Arguments for node before the entry point (e.g. `--max-old-space-size=384`). */
  readonly nodeArgs?: readonly string[];
  /** Prefix of the temporary working directory (removed when the process exits). */
  readonly directoryPrefix?: string;
  /** Keep only the last this many lines (a long benchmark must not keep every log line); default: all. */
  readonly keepLines?: number;
  /** Also write the raw output (stdout and stderr) to this file. */
  readonly logFile?: string;
  /** SIGTERM the child if this process exits first, so that it does not outlive us (the demo). */
  readonly killOnParentExit?: boolean;
  /** What the process is, in error messages ("the bot"). */
  readonly description?: string;
}

export type LogRecord = Record<string, unknown>;

export interface SpawnedProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Output lines kept so far (stdout and stderr; all, or the last `keepLines`), raw, without empty ones. */
  readonly lines: string[];
  /** Lines seen so far, kept or not. */
  readonly lineCount: number;
  /** The kept lines that are JSON objects (log records), parsed. */
  records(): LogRecord[];
  /** The first kept record matching, if any. */
  findRecord(predicate: (record: LogRecord) => boolean): LogRecord | undefined;
  /** Resolves with the first record matching (kept or still to come); rejects after `timeoutMs` or when the process exits first. */
  waitForRecord(predicate: (record: LogRecord) => boolean, timeoutMs?: number): Promise<LogRecord>;
  /** Neither exited nor killed yet. */
  readonly running: boolean;
  /** Resolves with the exit code (null when a signal ended it) once the process has exited. */
  readonly exited: Promise<number | null>;
  /** Sends `signal` (SIGTERM), then SIGKILL after `killAfterMs` if given; resolves with the exit code. */
  stop(options?: { signal?: NodeJS.Signals; killAfterMs?: number }): Promise<number | null>;
}

/** A parsed line: not parsed yet, not a JSON object, or the record. */
type Parsed = undefined | null | LogRecord;

function parse(line: string): LogRecord | null {
  if (!line.startsWith('{')) return null;
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as LogRecord) : null;
  } catch {
    return null;
  }
}

/** Starts `node [...nodeArgs] <entry>` (an absolute path to a built file). */
export function spawnBuilt(entry: string, options: SpawnOptions): SpawnedProcess {
  const description = options.description ?? `the process (${path.basename(entry)})`;
  const directory = mkdtempSync(path.join(tmpdir(), options.directoryPrefix ?? 'switchboard-process-'));
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), entry], {
    cwd: directory,
    env: { PATH: process.env.PATH ?? '', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) {
    rmSync(directory, { recursive: true, force: true });
    throw new Error(`could not start ${entry}`);
  }
  const log = options.logFile === undefined ? undefined : createWriteStream(options.logFile);
  const keepLines = options.keepLines ?? Number.POSITIVE_INFINITY;
  const lines: string[] = [];
  // Parsed lazily (a benchmark's driver must not spend its CPU parsing lines nobody reads).
  const parsed: Parsed[] = [];
  let lineCount = 0;
  const waiters = new Set<(record: LogRecord) => void>();

  const recordAt = (index: number): LogRecord | null => {
    let record = parsed[index];
    if (record === undefined) {
      record = parse(lines[index] ?? '');
      parsed[index] = record;
    }
    return record;
  };
  const records = (): LogRecord[] =>
    lines.flatMap((_, index) => {
      const record = recordAt(index);
      return record === null ? [] : [record];
    });
  const lastLines = (): string => lines.slice(-15).join('\n');

  const collect = (stream: NodeJS.ReadableStream | null): void => {
    let pending = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      log?.write(chunk);
      pending += chunk;
      const complete = pending.split('\n');
      pending = complete.pop() ?? '';
      for (const line of complete) {
        if (line === '') continue;
        lineCount++;
        lines.push(line);
        parsed.push(undefined);
        if (lines.length > keepLines) {
          lines.shift();
          parsed.shift();
        }
        if (waiters.size === 0) continue;
        const record = recordAt(lines.length - 1);
        if (record !== null) for (const waiter of [...waiters]) waiter(record);
      }
    });
  };
  collect(child.stdout);
  collect(child.stderr);

  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  const killOnParentExit = (): void => {
    if (running()) child.kill('SIGTERM');
  };
  if (options.killOnParentExit === true) process.on('exit', killOnParentExit);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      process.off('exit', killOnParentExit);
      log?.end();
      rmSync(directory, { recursive: true, force: true });
      resolve(code);
    });
  });

  const findRecord = (predicate: (record: LogRecord) => boolean): LogRecord | undefined => {
    for (let index = 0; index < lines.length; index++) {
      const record = recordAt(index);
      if (record !== null && predicate(record)) return record;
    }
    return undefined;
  };

  return {
    child,
    pid: child.pid,
    lines,
    get lineCount() {
      return lineCount;
    },
    records,
    findRecord,
    get running() {
      return running();
    },
    exited,
    waitForRecord: (predicate, timeoutMs = 10_000) => {
      const found = findRecord(predicate);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(waiter);
        };
        const waiter = (record: LogRecord): void => {
          if (!predicate(record)) return;
          done();
          resolve(record);
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no matching log line within ${timeoutMs} ms; last lines:\n${lastLines()}`));
        }, timeoutMs);
        waiters.add(waiter);
        void exited.then(() => {
          if (!waiters.has(waiter)) return;
          done();
          reject(new Error(`${description} exited before the log line appeared; last lines:\n${lastLines()}`));
        });
      });
    },
    stop: async ({ signal = 'SIGTERM', killAfterMs }: { signal?: NodeJS.Signals; killAfterMs?: number } = {}) => {
      if (!running()) return exited;
      child.kill(signal);
      const timer = killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
