import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { DIST, emptyDirectory } from './cli';

/**
 * The built bot (`node dist/bot/main.js`) started as users start it, with only the environment
 * given (in an empty directory, so no developer `.env` is read). Its JSON log lines are collected.
 */
export interface BotProcess {
  readonly child: ChildProcess;
  /** Every log line so far (stdout and stderr), raw. */
  readonly lines: string[];
  /** Parsed JSON log records so far. */
  records(): Record<string, unknown>[];
  /** Resolves with the first log record matching, or rejects after `timeoutMs`. */
  waitForLog(predicate: (record: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Sends `signal` and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Resolves with the exit code when the process ends by itself. */
  exited: Promise<number | null>;
}

export function startBotProcess(env: Record<string, string>): BotProcess {
  const directory = emptyDirectory('switchboard-bot-');
  const child = spawn(process.execPath, [path.join(DIST, 'bot/main.js')], {
    cwd: directory.path,
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'debug', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const listeners = new Set<() => void>();
  const collect = (stream: NodeJS.ReadableStream | null): void => {
    let pending = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      pending += chunk;
      const complete = pending.split('\n');
      pending = complete.pop() ?? '';
      lines.push(...complete.filter((line) => line !== ''));
      for (const listener of listeners) listener();
    });
  };
  collect(child.stdout);
  collect(child.stderr);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      directory.remove();
      resolve(code);
    });
  });

  const records = (): Record<string, unknown>[] =>
    lines.flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });

  return {
    child,
    lines,
    records,
    exited,
    waitForLog: (predicate, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        const check = (): boolean => {
          const found = records().find(predicate);
          if (found === undefined) return false;
          cleanup();
          resolve(found);
          return true;
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no matching log line within ${timeoutMs} ms; last lines:\n${lines.slice(-15).join('\n')}`));
        }, timeoutMs);
        const cleanup = (): void => {
          clearTimeout(timer);
          listeners.delete(listener);
        };
        const listener = (): void => {
          check();
        };
        if (!check()) listeners.add(listener);
        void exited.then(() => {
          if (listeners.has(listener)) {
            cleanup();
            reject(new Error(`the bot exited before the log line appeared; last lines:\n${lines.slice(-15).join('\n')}`));
          }
        });
      }),
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode !== null) return child.exitCode;
      child.kill(signal);
      return exited;
    },
  };
}
