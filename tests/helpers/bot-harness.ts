import type { Redis } from 'ioredis';
import { startFakeProviderServer } from '../fakes/provider-server';
import { startFakeTelegramServer } from '../fakes/telegram-server';
import { startTestRedis, type TestRedis } from './redis-server';
import { envVar, type ProviderName, testKey, testKeys } from './providers';
import { connectInspector } from './stored-history';
import type { FakeProviderServer, RecordedRequest } from '../fakes/provider-server';
import { DEFAULT_TOKEN, type FakeTelegramServer, type StoredMessage, type UserInput } from '../fakes/telegram-server';
import { type BotProcess, startBotProcess } from './bot-process';

/**
 * What the end-to-end suites share: the environment that points the built bot at the fakes,
 * distinctive keys to look for in every message and log line, and waits on events. Providers are
 * the registry's (see `./providers`).
 */

export {
  descriptorOf,
  envVar,
  FIRST_PROVIDER,
  PROVIDER_NAMES,
  type ProviderName,
  SECOND_PROVIDER,
  testKey,
  testKeys,
} from './providers';

/** One key per provider, for the suites that leave no state behind. */
export const KEYS: Readonly<Record<ProviderName, string>> = testKeys('e2e');

/** Fast failure paths: a dead provider costs well under a second. */
export const SHORT_TIMEOUTS: Readonly<Record<string, string>> = {
  ATTEMPT_TIMEOUT_MS: '1500',
  FIRST_TOKEN_TIMEOUT_MS: '1500',
  STREAM_IDLE_TIMEOUT_MS: '1500',
  REQUEST_DEADLINE_MS: '8000',
};

/**
 * `<P>_API_KEY` and `<P>_BASE_URL` for each provider, pointed at the fake provider server (its
 * base URL there has the same path as its real one). The per-minute limits are lifted
 * (`<P>_RPM=0`, `<P>_TPM=0`): a suite sends more, and longer, answers in a few seconds than a
 * free key takes in a minute. Daily quotas stay as configured.
 */
export function providerEnv(providers: FakeProviderServer, names: readonly ProviderName[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of names) {
    env[envVar(name, 'API_KEY')] = testKey(name, 'e2e'); // = KEYS[name]
    env[envVar(name, 'RPM')] = '0';
    env[envVar(name, 'TPM')] = '0';
    env[envVar(name, 'BASE_URL')] = providers.baseUrlFor(name);
  }
  return env;
}

/**
 * `<P>_API_KEY` for each provider given, to lay over `providerEnv`: a suite that leaves keys set
 * aside or cooling down in Redis uses keys of its own, so a Redis shared between suites
 * (TEST_REDIS_URL) carries no such state from one suite to another.
 */
export function keyEnv(keys: Readonly<Record<ProviderName, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(keys).map(([name, key]) => [envVar(name, 'API_KEY'), key]));
}

/** The environment of a polling bot talking to the fakes. */
export function botEnv(
  telegram: FakeTelegramServer,
  providers: FakeProviderServer,
  names: readonly ProviderName[],
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    BOT_TOKEN: DEFAULT_TOKEN,
    TELEGRAM_API_ROOT: telegram.apiRoot,
    LOG_LEVEL: 'debug',
    ...providerEnv(providers, names),
    ...extra,
  };
}

/** Starts the built bot in long-polling mode and resolves once it is listening. */
export async function startPollingBot(telegram: FakeTelegramServer, env: Record<string, string>): Promise<BotProcess> {
  const bot = startBotProcess(env);
  await Promise.race([
    bot.waitForLog((record) => record.msg === 'long polling started', 15_000),
    bot.exited.then((code) => {
      throw new Error(`the bot exited with ${code} before polling:\n${bot.lines.slice(-15).join('\n')}`);
    }),
  ]);
  await telegram.waitForPolling({ timeoutMs: 10_000 });
  return bot;
}

/** Polls `condition` until it holds (a state reached through several events), or fails after `timeoutMs`. */
export async function until(condition: () => boolean, description: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`waited ${timeoutMs} ms for ${description}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Provider requests whose last user message is `text` (a chat turn as the model received it). */
export function requestsEndingWith(providers: FakeProviderServer, text: string): RecordedRequest[] {
  return providers.requests.filter((request) => request.messages.at(-1)?.content === text);
}

/** The conversation a request carried, without the system prompt: `role: content` lines. */
export function turnsOf(request: RecordedRequest | undefined): string[] {
  if (request === undefined) throw new Error('no such provider request');
  return request.messages.filter((message) => message.role !== 'system').map((m) => `${m.role}: ${m.content}`);
}

/** Sends a text and resolves with the bot's next message in that chat. */
export async function ask(
  telegram: FakeTelegramServer,
  from: UserInput,
  text: string,
  options: { chatId?: number; timeoutMs?: number; send?: () => void } = {},
): Promise<StoredMessage> {
  const since = telegram.mark();
  if (options.send === undefined) telegram.sendText(from, text);
  else options.send();
  return telegram.waitForMessage(options.chatId ?? from.id, (message) => message.fromBot, {
    since,
    timeoutMs: options.timeoutMs ?? 10_000,
  });
}

/**
 * Presses the button labelled `label` under `message` as `from`, and resolves with the bot's next
 * message in that chat (a streamed answer's final message; drafts are not messages).
 */
export async function pressButton(
  telegram: FakeTelegramServer,
  from: UserInput,
  message: StoredMessage,
  label: string,
): Promise<StoredMessage> {
  const keyboard = (
    message.replyMarkup as { inline_keyboard?: { text: string; callback_data?: string }[][] } | undefined
  )?.inline_keyboard;
  const data = keyboard?.flat().find((button) => button.text === label)?.callback_data;
  if (data === undefined) throw new Error(`no button ${label} under ${JSON.stringify(message.text)}`);
  const since = telegram.mark();
  telegram.sendCallbackQuery(from, data, { message });
  return telegram.waitForMessage(message.chat.id, (candidate) => candidate.fromBot, { since, timeoutMs: 10_000 });
}

/** Log records that mean an update crashed or escaped the error boundaries. */
export function crashRecords(bot: BotProcess): Record<string, unknown>[] {
  return bot
    .records()
    .filter((record) => ['uncaught exception', 'unhandled rejection', 'update failed'].includes(String(record.msg)));
}

/** Resolves when the bot logged that it finished answering `update` (every part sent). */
export function answered(bot: BotProcess, update: { update_id: number }, timeoutMs = 10_000): Promise<unknown> {
  return bot.waitForLog((record) => record.msg === 'answered' && record.update_id === update.update_id, timeoutMs);
}

/** Texts the bot sent that look like a leaked internal (a stack trace, `undefined`, an object). */
export function suspiciousTexts(telegram: FakeTelegramServer): string[] {
  return telegram.calls
    .filter((call) => ['sendMessage', 'editMessageText', 'sendMessageDraft'].includes(call.method))
    .map((call) => String(call.params.text ?? ''))
    .filter((text) => /undefined|NaN|\[object Object\]|Error:|\n\s+at [\w.<]+ \(/.test(text));
}

/** A polling bot with its own Redis and fakes, and a plain Redis client to read what it stored. */
export interface RedisBotWorld {
  readonly redis: TestRedis;
  readonly inspector: Redis;
  readonly telegram: FakeTelegramServer;
  readonly providers: FakeProviderServer;
  readonly bot: BotProcess;
  stop(): Promise<void>;
}

export async function startRedisBotWorld(
  names: readonly ProviderName[],
  extra: Record<string, string> = {},
): Promise<RedisBotWorld> {
  const [redis, telegram, providers] = await Promise.all([
    startTestRedis(),
    startFakeTelegramServer(),
    startFakeProviderServer(),
  ]);
  const inspector = await connectInspector(redis.url);
  const bot = await startPollingBot(telegram, botEnv(telegram, providers, names, { REDIS_URL: redis.url, ...extra }));
  return {
    redis,
    inspector,
    telegram,
    providers,
    bot,
    stop: async () => {
      await bot.stop();
      inspector.disconnect();
      await Promise.all([telegram.stop(), providers.stop(), redis.stop()]);
    },
  };
}
