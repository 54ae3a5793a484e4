/**
 * `npm run chat`: talk to the provider pool from a terminal, with history, using the keys in
 * `.env` — a way to check a setup without Telegram. Each answer is followed by who answered
 * (provider, masked key), how long it took, and any fallback on the way.
 *
 * Commands: /reset forgets the conversation, /stats shows the pool, /quit (or Ctrl-D) leaves.
 */
import { createInterface } from 'node:readline';
import type { Writable } from 'node:stream';
import { isRouterError, PROVIDERS } from '../providers';
import {
  configSecrets,
  createConfigForTools,
  type Env,
  isConfigError,
  loadDotEnv,
  type ToolsConfig,
} from '../bot/config';
import { createLogger } from '../bot/logger';
import { createServices } from '../bot/services/create-services';

const CONVERSATION = 'terminal';

export async function runChat(env: Env, input: NodeJS.ReadableStream, output: Writable): Promise<number> {
  const write = (text: string): void => {
    output.write(text);
  };
  let config: ToolsConfig;
  try {
    config = createConfigForTools(env);
  } catch (error) {
    if (!isConfigError(error)) throw error;
    write(`Configuration error:\n${error.message}\n`);
    return 2;
  }
  if (config.providers.providers.length === 0) {
    write(
      `No provider has an API key. Put one in .env (see .env.example), e.g. ${PROVIDERS[0]?.envPrefix ?? '<PROVIDER>'}_API_KEY=…\n`,
    );
    return 2;
  }
  const logger = createLogger({
    level: env.LOG_LEVEL === undefined || env.LOG_LEVEL === '' ? 'warn' : config.logLevel,
    secrets: configSecrets(config),
    // Logs go to standard error, so they do not mix with the conversation.
    destination: { write: (line: string) => process.stderr.write(line) },
  });
  const services = await createServices(config, logger);
  write(
    `Switchboard chat — ${services.router.providerNames.join(', ')}. /reset forgets, /stats shows the pool, /quit leaves.\n`,
  );

  const lines = createInterface({ input, terminal: false });
  try {
    for await (const rawLine of lines) {
      const line = rawLine.trim();
      if (line === '') continue;
      if (line === '/quit' || line === '/exit') break;
      if (line === '/reset') {
        await services.chat.resetConversation(CONVERSATION);
        write('(conversation forgotten)\n');
        continue;
      }
      if (line === '/stats') {
        const pool = await services.poolStats();
        for (const provider of pool.providers) {
          write(
            `${provider.name} (${provider.model}, ${provider.breaker}): ${provider.counters.requests} requests, ` +
              `${provider.leftToday ?? '?'} left today\n`,
          );
        }
        write(`pool: ${pool.leftToday} of ${pool.dailyCapacity} requests left today\n`);
        continue;
      }
      await answer(services, line, write);
    }
  } finally {
    lines.close();
    await services.close();
  }
  return 0;
}

async function answer(
  services: Awaited<ReturnType<typeof createServices>>,
  line: string,
  write: (text: string) => void,
): Promise<void> {
  const started = performance.now();
  try {
    for await (const event of services.chat.streamMessageWithHistory(CONVERSATION, line)) {
      if (event.type === 'text-delta') write(event.text);
      if (event.type === 'stored') {
        const reply = event.reply;
        const fallback =
          reply.failedAttempts.length === 0
            ? ''
            : ` · after ${reply.failedAttempts.map((attempt) => `${attempt.provider} ${attempt.kind}`).join(', ')}`;
        const history = reply.historyAvailable ? '' : ' · history unavailable';
        write(
          `\n[${reply.provider} ${reply.maskedKey} · ${reply.model} · ${Math.round(performance.now() - started)} ms${fallback}${history}]\n`,
        );
      }
    }
  } catch (error) {
    if (!isRouterError(error)) throw error;
    write(`\n[no answer: ${error.kind} — ${error.message}]\n`);
  }
}

if (require.main === module) {
  loadDotEnv();
  runChat(process.env, process.stdin, process.stdout).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`chat failed: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
