/**
 * The ceiling of the end-to-end benchmark: a bare grammY bot that answers every text with the
 * same text, run by @grammyjs/runner (concurrent, like Switchboard) against the same fake
 * Telegram server. No storage, no provider, no middleware: what this machine can do with grammY.
 *
 * Environment: BOT_TOKEN, TELEGRAM_API_ROOT. Stops on SIGTERM/SIGINT.
 */
import { Bot } from 'grammy';
import { runBenchBot } from './run-bot';

function main(): void {
  const token = process.env.BOT_TOKEN;
  const apiRoot = process.env.TELEGRAM_API_ROOT;
  if (token === undefined || apiRoot === undefined) {
    process.stderr.write('echo bot: BOT_TOKEN and TELEGRAM_API_ROOT are required\n');
    process.exit(2);
  }
  const bot = new Bot(token, { client: { apiRoot } });
  bot.on('message:text', (ctx) => ctx.reply(ctx.msg.text));
  runBenchBot(bot, 'echo bot');
}

main();
