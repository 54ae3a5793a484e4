import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { DIST } from './built';
import { spawnBuilt } from './spawn-process';

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
  waitForLog(
    predicate: (record: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  /** Sends `signal` and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Resolves with the exit code when the process ends by itself. */
  exited: Promise<number | null>;
}

export function startBotProcess(env: Record<string, string>): BotProcess {
  const bot = spawnBuilt(path.join(DIST, 'bot/main.js'), {
    env: { LOG_LEVEL: 'debug', ...env },
    directoryPrefix: 'switchboard-bot-',
    description: 'the bot',
  });
  return {
    child: bot.child,
    lines: bot.lines,
    records: bot.records,
    exited: bot.exited,
    waitForLog: bot.waitForRecord,
    stop: (signal = 'SIGTERM') => bot.stop({ signal }),
  };
}
