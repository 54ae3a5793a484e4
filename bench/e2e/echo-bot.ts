/**
 * The ceiling of the end-to-end benchmark: a bare grammY bot that answers every text with the
 * same text, run by @grammyjs/runner (concurrent, like Switchboard) against the same fake
 * Telegram server. No storage, no provider, no middleware: what this machine can do with grammY.
 *
 * Environment: BOT_TOKEN, TELEGRAM_API_ROOT. Stops on SIGTERM/SIGINT.
 */
import { run } from '@grammyjs/runner';
import { Bot } from 'grammy';

function main(): void {
  const token = process.env.BOT_TOKEN;
  const apiRoot = process.env.TELEGRAM_API_ROOT;
  if (token === undefined || apiRoot === undefined) {
    process.stderr.write('echo bot: BOT_TOKEN and TELEGRAM_API_ROOT are required\n');
    process.exit(2);
  }
  const bot = new Bot(token, { client: { apiRoot } });
  bot.on('message:text', (ctx) => ctx.reply(ctx.msg.text));
  bot.catch((error) => process.stderr.write(`echo bot: update failed: ${String(error.error)}\n`));
  const runner = run(bot);
  process.stdout.write('echo bot polling\n');
  const stop = (): void => {
    void runner.stop().finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main();
