import { run } from '@grammyjs/runner';
import type { Bot } from 'grammy';

/**
 * Runs a bench bot with @grammyjs/runner (concurrent, like Switchboard), says so on standard
 * output, and stops on SIGTERM or SIGINT, exiting 0. Failed updates go to standard error.
 */
export function runBenchBot(bot: Bot, name: string): void {
  bot.catch((error) => process.stderr.write(`${name}: update failed: ${String(error.error)}\n`));
  const runner = run(bot);
  process.stdout.write(`${name} polling\n`);
  const stop = (): void => {
    void runner.stop().finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
