import type { Context } from 'grammy';
import type { Config } from './config';
import type { DelayedDeliveries } from './delivery';
import type { Language, Messages } from './locales';
import type { Logger } from './logger';
import type { UpdateHooks } from './intake/update-hooks';
import type { Services } from './services/create-services';
import type { UserSettings } from './services/settings';

/** What every handler can reach, put on the context by the first middleware (the composition root). */
export interface BotDeps {
  readonly config: Config;
  readonly services: Services;
  readonly logger: Logger;
  /** Wall clock (tests may pass their own). */
  readonly now: () => number;
  /** Conversations told that history is unavailable during the current outage (told once each). */
  readonly historyNotified: Set<string>;
  /** When updates come from the durable intake queue (bot/intake/update-hooks.ts). */
  readonly intakeHooks?: UpdateHooks;
  /** Answers waiting out a Telegram flood wait longer than the retries take (`bot/delivery.ts`). */
  readonly deliveries: DelayedDeliveries;
}

export interface BotFlavor {
  readonly deps: BotDeps;
  /** A child logger carrying `update_id`, chat and user. */
  log: Logger;
  lang: Language;
  t: Messages;
  /** The sending user's /settings (defaults when there is no user or storage is away). */
  settings: UserSettings;
  /** A long paste that arrived in several messages, joined (`bot/features/paste-join.ts`). */
  joinedText?: string;
}

export type BotContext = Context & BotFlavor;

export function isAdmin(ctx: BotContext): boolean {
  return ctx.from !== undefined && ctx.deps.config.adminIds.includes(ctx.from.id);
}

/** One history per user in private chats, one per chat and user in groups. */
export function conversationIdOf(ctx: BotContext): string | undefined {
  if (ctx.chat === undefined || ctx.from === undefined) return undefined;
  return ctx.chat.type === 'private' ? `u:${ctx.from.id}` : `g:${ctx.chat.id}:u:${ctx.from.id}`;
}
