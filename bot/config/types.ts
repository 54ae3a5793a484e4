/**
 * The configuration's types, and `ConfigError`, which lists every wrong variable at once.
 */
import type { ProviderConfig, RoutePreference, RouterSettings } from '../../providers';
import type { RedisTopology } from '../../storage';

export type Env = Readonly<Record<string, string | undefined>>;

/**
 * The provider pool as configured: the router's settings, and the enabled providers in the core's
 * one provider shape (keys in the order `<P>_API_KEY`, `<P>_API_KEY_2` …, `<P>_API_KEYS`; limits
 * are the descriptor's defaults with `<P>_RPM`/`_RPD`/`_TPM`/`_TPD` applied).
 */
export interface ProvidersConfig extends RouterSettings {
  /** Enabled providers (those with at least one key), in `order`. */
  readonly providers: readonly ProviderConfig[];
  /**
   * Every known provider name, once: those in `PROVIDER_ORDER` first, as listed, then the rest in
   * registry order (so a provider left out of `PROVIDER_ORDER` still serves, last).
   */
  readonly order: readonly string[];
  /** Things that are not errors but probably mistakes (a key variable that is not read …). */
  readonly warnings: readonly string[];
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface WebhookConfig {
  /** Exactly as given: it is what `setWebhook` registers. */
  readonly url: string;
  /** Path of `url`, where updates are accepted. */
  readonly path: string;
  readonly secret: string;
  readonly port: number;
}

export interface Config {
  readonly botToken: string;
  /** Without a trailing slash. */
  readonly telegramApiRoot: string;
  readonly adminIds: readonly number[];
  /** Empty means everyone may use the bot. */
  readonly allowedUserIds: readonly number[];
  /** Unset means in-memory storage. */
  readonly redisUrl: string | undefined;
  /** REDIS_SENTINELS or REDIS_CLUSTER_NODES; `redisUrl` then gives only credentials, database and TLS. */
  readonly redisTopology: RedisTopology | undefined;
  /** 0 means no per-minute limit. */
  readonly rateLimitPerMinute: number;
  /** 0 means unlimited. */
  readonly userDailyLimit: number;
  /**
   * Media requests a user may make per UTC day (photos, image files, voice and video notes, audio,
   * PDFs, /translate on a voice note or photo); 0 means unlimited.
   */
  readonly userDailyMediaLimit: number;
  /** Seconds of audio a user may have transcribed per UTC day; 0 means unlimited. */
  readonly userDailyAudioSeconds: number;
  readonly historyMaxMessages: number;
  readonly historyTtlSeconds: number;
  readonly systemPrompt: string;
  readonly streamReplies: boolean;
  /** The providers (and models) a user's "fast" model preference tries first; empty: the option is not offered. */
  readonly modelPreferenceFast: readonly RoutePreference[];
  /** The same for "smart". */
  readonly modelPreferenceSmart: readonly RoutePreference[];
  readonly translateDefaultLang: string;
  readonly translateMaxTexts: number;
  /** The longest user message accepted, in characters. */
  readonly maxMessageChars: number;
  /** How long a long message waits for the rest of a split paste (0: never). */
  readonly pasteJoinMs: number;
  /**
   * With Redis: updates queued and not yet handled above which intake slows down (polling waits,
   * the webhook answers 503 so Telegram sends again later) and /readyz reports not ready.
   */
  readonly intakeBacklogLimit: number;
  /** With Redis: how long a process may go without touching its queued updates before another takes them over. */
  readonly intakeReclaimIdleMs: number;
  /**
   * With Redis: updates one process handles at once (different chats); the rest wait in the
   * queue, for this process or another.
   */
  readonly intakeConcurrency: number;
  /** Set in webhook mode (`WEBHOOK_URL` given); long polling otherwise. */
  readonly webhook: WebhookConfig | undefined;
  readonly metricsPort: number | undefined;
  /**
   * The admins' dashboard (`/dashboard` beside the ops endpoints) is served only when set; the
   * page asks for it once (`?token=`) and then keeps a session cookie derived from it.
   */
  readonly dashboardToken: string | undefined;
  readonly logLevel: LogLevel;
  readonly providers: ProvidersConfig;
}

/** What the command-line tools (`npm run chat`) need: everything but Telegram's settings. */
export type ToolsConfig = Omit<Config, 'botToken' | 'webhook'>;

export interface ConfigIssue {
  readonly variable: string;
  readonly problem: string;
}

/** Every problem found in the environment at once; the message lists them as `VARIABLE: problem`. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    super(
      [
        'Invalid configuration (see .env.example):',
        ...issues.map((issue) => `${issue.variable}: ${issue.problem}`),
      ].join('\n'),
    );
    this.issues = issues;
  }
}

export function isConfigError(value: unknown): value is ConfigError {
  return value instanceof Error && value.name === 'ConfigError' && Array.isArray((value as ConfigError).issues);
}
