import { autoRetry } from '@grammyjs/auto-retry';
import { sequentialize } from '@grammyjs/runner';
import { type ApiClientOptions, Bot, type BotError, Composer, Context, GrammyError, HttpError } from 'grammy';
import type { Update } from 'grammy/types';
import { transportFetch } from '../providers';
import type { Config } from './config';
import type { BotContext, BotDeps } from './context';
import { DelayedDeliveries } from './delivery';
import { basicsFeature } from './features/basics';
import { chatFeature } from './features/chat';
import { costGate } from './features/limits';
import { hasMedia, mediaFeature } from './features/media';
import { statsFeature } from './features/stats';
import { translateFeature } from './features/translate';
import { unsupportedFeature } from './features/unsupported';
import { usageFeature } from './features/usage';
import { pasteJoin } from './features/paste-join';
import { newConversationFeature } from './features/new-conversation';
import { settingsFeature } from './features/settings';
import { exportFeature } from './features/export';
import { isStopPress } from './features/answer-buttons';
import { isStorageUnavailable } from '../storage';
import { DEFAULT_SETTINGS } from './services/settings';
import { LANGUAGES, languageOf, messagesFor } from './locales';
import type { Logger } from './logger';
import type { Metrics } from './metrics';
import type { Services } from './services/create-services';
import type { UpdateHooks } from './intake/update-hooks';

/** Retries of a Telegram call whose connection failed (1 s, 2 s, 4 s apart). */
const NETWORK_RETRIES = 3;

export interface CreateBotDeps {
  readonly services: Services;
  readonly logger: Logger;
  readonly now?: () => number;
  /** How answers held back by a long flood wait wait it out (tests pass a fake clock's). */
  readonly sleep?: (ms: number) => Promise<void>;
  readonly metrics?: Metrics;
  /**
   * Set when updates come from the durable intake queue: failures are reported to it (it retries
   * and tells the user once if it gives up), and a paste waiting for its parts lets its chat go on.
   */
  readonly intakeHooks?: UpdateHooks;
}

/**
 * The composition root: every dependency explicit, put on the context by the first middleware,
 * then one Composer per feature behind an error boundary, in this order:
 *   context → access → settings → basics (/start /help /reset) → /usage → /new → /settings → /export
 *   → /stats → /translate → chat (with the buttons under answers) → media → everything else.
 * Limits stand only in front of what costs a provider call (/translate and chat).
 */
export function createBot(config: Config, deps: CreateBotDeps): Bot<BotContext> {
  const bot = new Bot<BotContext>(config.botToken, {
    // The light transport (providers/shared/http-transport.ts) instead of grammY's node-fetch.
    client: { apiRoot: config.telegramApiRoot, fetch: transportFetch as unknown as ApiClientOptions['fetch'] },
  });
  const botDeps: BotDeps = {
    config,
    services: deps.services,
    logger: deps.logger,
    now: deps.now ?? Date.now,
    historyNotified: new Set(),
    ...(deps.intakeHooks === undefined ? {} : { intakeHooks: deps.intakeHooks }),
    deliveries: new DelayedDeliveries(deps.logger, deps.sleep === undefined ? {} : { sleep: deps.sleep }),
  };

  // Telegram's 429 (flood control) and 5xx are retried by @grammyjs/auto-retry within explicit
  // bounds (its defaults would wait forever); an answer that meets a longer flood wait is sent
  // when it ends (`bot/delivery.ts`). It would also retry a network error without bound,
  // up to an hour apart — a chat (and, in polling, the offset) stuck behind one send long after
  // Telegram is back — so network errors are rethrown to a bounded retry of our own; getUpdates
  // is left to long polling's own backoff.
  bot.api.config.use(autoRetry({ maxRetryAttempts: 3, maxDelaySeconds: 30, rethrowHttpErrors: true }));
  bot.api.config.use(async (previous, method, payload, signal) => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await previous(method, payload, signal);
      } catch (error) {
        if (!(error instanceof HttpError) || method === 'getUpdates' || attempt >= NETWORK_RETRIES) throw error;
        await new Promise((resolve) => setTimeout(resolve, 1000 * 2 ** attempt));
      }
    }
  });
  const metrics = deps.metrics;
  if (metrics !== undefined) {
    // Outermost transformer: sees each call once, after auto-retry gave up or succeeded.
    bot.api.config.use(async (previous, method, payload, signal) => {
      try {
        const result = await previous(method, payload, signal);
        metrics.recordTelegramCall(method, result.ok ? { ok: true } : { ok: false, code: result.error_code });
        return result;
      } catch (error) {
        metrics.recordTelegramCall(method, { ok: false, code: 'network' });
        throw error;
      }
    });
  }

  bot.use(async (ctx, next) => {
    const started = performance.now();
    Object.assign(ctx, { deps: botDeps });
    ctx.log = deps.logger.child({ update_id: ctx.update.update_id, chat: ctx.chat?.id, user: ctx.from?.id });
    ctx.lang = languageOf(ctx.from?.language_code);
    ctx.t = messagesFor(ctx.lang);
    ctx.settings = DEFAULT_SETTINGS;
    try {
      await next();
    } finally {
      if (metrics !== undefined) {
        const type = Object.keys(ctx.update).find((key) => key !== 'update_id') ?? 'unknown';
        metrics.recordUpdate(type, (performance.now() - started) / 1000);
      }
      // The end of the update's handling, for tools that follow the log (the demo).
      ctx.log.debug('update handled');
    }
  });
  // The parts of a long paste, joined before they are put in line (they would wait for each other).
  bot.use(pasteJoin(config.pasteJoinMs, (ctx) => deps.intakeHooks?.releaseTurn(ctx.update.update_id)));
  // Each chat's updates are handled in order; different chats in parallel (with @grammyjs/runner
  // or concurrent webhook deliveries). A Stop press is not put in line: it must reach the answer
  // it stops while that answer is still being handled.
  bot.use(sequentialize((ctx) => (isStopPress(ctx.update) ? undefined : ctx.chat?.id.toString())));

  // Who may use the bot, then the user's settings, read once per update (the interface language
  // may be overridden): one middleware, a level of grammY's chain fewer per update.
  bot.use(async (ctx, next) => {
    if (!mayUse(ctx, config)) {
      if (ctx.chat?.type === 'private' && ctx.message !== undefined) await ctx.reply(ctx.t.notAllowed);
      return;
    }
    if (ctx.from !== undefined && mayNeedSettings(ctx)) {
      try {
        ctx.settings = await deps.services.settings.get(String(ctx.from.id));
      } catch (error) {
        if (!isStorageUnavailable(error)) throw error;
        ctx.log.warn({ err: error }, 'settings unavailable: defaults for this update');
      }
      if (ctx.settings.language !== undefined) {
        ctx.lang = ctx.settings.language;
        ctx.t = messagesFor(ctx.lang);
      }
    }
    await next();
  });

  const gate = costGate(deps.services.stores.counters, {
    perMinute: config.rateLimitPerMinute,
    perDay: config.userDailyLimit,
    now: botDeps.now,
    ...(metrics === undefined ? {} : { onLimited: (limit: 'minute' | 'day') => metrics.recordRateLimited(limit) }),
  });
  // Each feature behind its error boundary, and behind a cheap check of whether it can apply at
  // all: grammY's filters (`command`, `on`) build a Composer per update they look at, which was a
  // tenth of the garbage of answering a message.
  const features: [string, Composer<BotContext>, (ctx: BotContext) => boolean][] = [
    ['basics', basicsFeature(), mayBeCommand],
    ['usage', usageFeature(), mayBeCommand],
    ['new conversation', newConversationFeature(), (ctx) => ctx.callbackQuery !== undefined || mayBeCommand(ctx)],
    ['settings', settingsFeature(), (ctx) => ctx.callbackQuery !== undefined || mayBeCommand(ctx)],
    ['export', exportFeature(), mayBeCommand],
    ['stats', statsFeature(), mayBeCommand],
    ['translate', translateFeature(gate), mayBeCommand],
    ['chat', chatFeature(gate), (ctx) => ctx.message?.text !== undefined || ctx.callbackQuery !== undefined],
    ['media', mediaFeature(gate), hasMedia],
    ['unsupported', unsupportedFeature(), () => true],
  ];
  const bounded = features.map(([name, feature, mayApply]) => {
    const boundary = new Composer<BotContext>();
    boundary.errorBoundary((error) => reportError(error, name), feature);
    return { mayApply, middleware: boundary.middleware() };
  });
  // The features as one middleware: one that cannot apply costs its check, where a level of
  // grammY's chain of its own would cost closures and promises on every update passing it.
  bot.use((ctx, next) => {
    const from = async (index: number): Promise<void> => {
      for (let at = index; at < bounded.length; at++) {
        const { mayApply, middleware } = bounded[at]!;
        if (mayApply(ctx)) {
          await middleware(ctx, () => from(at + 1));
          return;
        }
      }
      await next();
    };
    return from(0);
  });

  bot.catch((error) => reportError(error, 'bot'));
  return bot;
}

/** ALLOWED_USER_IDS: empty lets everyone in; admins are always in. */
function mayUse(ctx: BotContext, config: Config): boolean {
  const allowed = config.allowedUserIds;
  return (
    allowed.length === 0 ||
    ctx.from === undefined ||
    allowed.includes(ctx.from.id) ||
    config.adminIds.includes(ctx.from.id)
  );
}

/**
 * Whether the update may be answered, so the sender's settings are worth reading: a button
 * press, a private message, or in a group a command or a message addressed to the bot (group
 * chatter the bot ignores costs no storage read).
 */
function mayNeedSettings(ctx: BotContext): boolean {
  if (ctx.callbackQuery !== undefined) return true;
  const message = ctx.message;
  if (message === undefined) return false;
  if (ctx.chat?.type === 'private') return true;
  const text = message.text ?? message.caption ?? '';
  return (
    text.startsWith('/') ||
    message.reply_to_message?.from?.id === ctx.me.id ||
    text.toLowerCase().includes(`@${ctx.me.username.toLowerCase()}`)
  );
}

/** Whether a command filter could match: commands start the text (or caption) of a message. */
function mayBeCommand(ctx: BotContext): boolean {
  const message = ctx.message ?? ctx.channelPost;
  return (message?.text ?? message?.caption ?? '').startsWith('/');
}

/** Logs a failed update and tells the user, briefly, that something went wrong (never a stack trace). */
async function reportError(error: BotError<BotContext>, where: string): Promise<void> {
  const ctx = error.ctx;
  const log = ctx.log ?? ctx.deps?.logger;
  log?.error({ err: error.error, feature: where }, 'update failed');
  // The durable intake tries the update again, and tells the user once if it gives up.
  if (ctx.deps?.intakeHooks?.failed(ctx.update.update_id, error.error) === true) return;
  if (ctx.chat === undefined || ctx.message === undefined || ctx.t === undefined) return;
  try {
    await ctx.reply(ctx.t.errors.generic);
  } catch (replyError) {
    log?.warn({ err: replyError }, 'could not tell the user about the failure');
  }
}

/**
 * Tells the user of an update the durable intake set aside (it failed every try), once, in their
 * language, as a reply to their message when there is one.
 */
export async function tellSetAside(bot: Bot<BotContext>, update: Update): Promise<void> {
  const ctx = new Context(update, bot.api, bot.botInfo);
  if (ctx.chat === undefined) return;
  const t = messagesFor(languageOf(ctx.from?.language_code));
  const messageId = ctx.msg?.message_id;
  await bot.api.sendMessage(ctx.chat.id, t.errors.setAside, {
    ...(messageId === undefined
      ? {}
      : { reply_parameters: { message_id: messageId, allow_sending_without_reply: true } }),
  });
}

/** Registers the commands (English by default, Persian for Persian-speaking users). */
export async function registerCommands(bot: Bot<BotContext>): Promise<void> {
  for (const language of LANGUAGES) {
    const t = messagesFor(language);
    const commands = Object.entries(t.commands).map(([command, description]) => ({ command, description }));
    await bot.api.setMyCommands(commands, language === 'en' ? {} : { language_code: language });
  }
}

/** A Telegram API failure worth a short log line (not a crash). */
export function describeTelegramError(error: unknown): string {
  if (error instanceof GrammyError) return `${error.method}: ${error.error_code} ${error.description}`;
  if (error instanceof HttpError) return `network: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}
