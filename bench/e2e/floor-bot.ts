/**
 * The floor of the end-to-end benchmark: the least a bot that answers from an LLM provider through
 * its official SDK must do per message with this stack, and nothing else. grammY and
 * @grammyjs/runner as in the echo bot, Telegram calls through Switchboard's HTTP transport, and
 * per text message one call of the first registry provider's adapter (its SDK, built as
 * Switchboard builds it, with the adapter's own reading of the answer) and one reply with its
 * answer. No history, no quotas, no router, no stats, no rendering, no logs, no metrics.
 *
 * It is measured beside the echo bot and Switchboard so that the report can say how much of the
 * gap between them is the provider call itself and how much is Switchboard's own work.
 *
 * Environment: BOT_TOKEN, TELEGRAM_API_ROOT, and `<P>_API_KEY`, `<P>_BASE_URL` of the first
 * provider in the registry. Stops on SIGTERM/SIGINT.
 */
import { type ApiClientOptions, Bot } from 'grammy';
import { PROVIDERS } from '../../providers/registry';
import { transportFetch } from '../../providers/shared/http-transport';
import { runBenchBot } from './run-bot';

function main(): void {
  const descriptor = PROVIDERS[0];
  if (descriptor === undefined) throw new Error('floor bot: the registry is empty');
  const keyVariable = `${descriptor.envPrefix}_API_KEY`;
  const urlVariable = `${descriptor.envPrefix}_BASE_URL`;
  const { BOT_TOKEN: token, TELEGRAM_API_ROOT: apiRoot } = process.env;
  const apiKey = process.env[keyVariable];
  const baseUrl = process.env[urlVariable];
  if (token === undefined || apiRoot === undefined || apiKey === undefined || baseUrl === undefined) {
    process.stderr.write(`floor bot: BOT_TOKEN, TELEGRAM_API_ROOT, ${keyVariable} and ${urlVariable} are required\n`);
    process.exit(2);
  }
  const adapter = descriptor.create({
    baseUrl,
    model: descriptor.defaultModel,
    timeoutMs: 30_000,
    idleTimeoutMs: 30_000,
  });
  const bot = new Bot(token, {
    client: { apiRoot, fetch: transportFetch as unknown as ApiClientOptions['fetch'] },
  });
  bot.on('message:text', async (ctx) => {
    const answer = await adapter.complete({ messages: [{ role: 'user', content: ctx.msg.text }] }, apiKey);
    await ctx.reply(answer.text === '' ? '(no answer)' : answer.text);
  });
  runBenchBot(bot, 'floor bot');
}

main();
