/**
 * The floor of the end-to-end benchmark: the least a bot that answers from an LLM provider through
 * its official SDK must do per message with this stack, and nothing else. grammY and
 * @grammyjs/runner as in the echo bot, Telegram calls through Switchboard's HTTP transport, and
 * per text message one `chat.completions.create` of groq-sdk (built with the options Switchboard's
 * Groq adapter uses) and one reply with its answer. No history, no quotas, no stats, no rendering,
 * no logs, no metrics.
 *
 * It is measured beside the echo bot and Switchboard so that the report can say how much of the
 * gap between them is the provider call itself and how much is Switchboard's own work.
 *
 * Environment: BOT_TOKEN, TELEGRAM_API_ROOT, GROQ_API_KEY, GROQ_BASE_URL. Stops on SIGTERM/SIGINT.
 */
import { type ApiClientOptions, Bot } from 'grammy';
import Groq from 'groq-sdk';
import { transportFetch } from '../../providers/shared/http-transport';
import { stainlessClientOptions } from '../../providers/shared/openai-compatible';
import { runBenchBot } from './run-bot';

function main(): void {
  const { BOT_TOKEN: token, TELEGRAM_API_ROOT: apiRoot, GROQ_API_KEY: apiKey, GROQ_BASE_URL: baseUrl } = process.env;
  if (token === undefined || apiRoot === undefined || apiKey === undefined || baseUrl === undefined) {
    process.stderr.write('floor bot: BOT_TOKEN, TELEGRAM_API_ROOT, GROQ_API_KEY and GROQ_BASE_URL are required\n');
    process.exit(2);
  }
  const groq = new Groq(
    stainlessClientOptions(apiKey, {
      baseUrl,
      model: 'llama-3.1-8b-instant',
      timeoutMs: 30_000,
      idleTimeoutMs: 30_000,
    }),
  );
  const bot = new Bot(token, {
    client: { apiRoot, fetch: transportFetch as unknown as ApiClientOptions['fetch'] },
  });
  bot.on('message:text', async (ctx) => {
    const completion = await groq.chat.completions.create({
      model: 'llama-3.1-8b-instant',
      messages: [{ role: 'user', content: ctx.msg.text }],
    });
    await ctx.reply(completion.choices[0]?.message.content ?? '(no answer)');
  });
  runBenchBot(bot, 'floor bot');
}

main();
