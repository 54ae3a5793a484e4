/**
 * The bot's own variables: Telegram, users, limits, history, replies, logging, and the webhook.
 */
import { z } from 'zod';
import {
  type FieldSpecs,
  flag,
  httpUrl,
  oneOf,
  port,
  quote,
  requiredString,
  splitList,
  text,
  wholeNumber,
} from './fields';
import { PROVIDERS, type RoutePreference } from '../../providers';
import { redisUrl } from './redis';

export const DEFAULT_SYSTEM_PROMPT =
  'You are a helpful assistant chatting with people on Telegram. Answer in the language the user ' +
  'writes in. Be clear and concise. Use Markdown sparingly: bold, italics, lists and code blocks ' +
  'when they help, no tables and no headings.';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Telegram's token is `<bot id>:<secret>` (35 characters after the colon today). At least 20 of
 * [A-Za-z0-9_-] are asked for: enough to catch a truncated paste, loose enough for test tokens.
 */
function botToken() {
  return requiredString().regex(/^\d+:[\w-]{20,}$/, {
    error: 'not a bot token: expected <digits>:<secret> exactly as @BotFather gives it (no "bot" prefix, no quotes)',
  });
}

function userIds() {
  return requiredString()
    .transform(splitList)
    .pipe(
      z.array(
        z.string().refine((item) => /^\d+$/.test(item) && Number(item) > 0 && Number.isSafeInteger(Number(item)), {
          error: (issue) => `${quote(issue.input)} is not a Telegram user id`,
        }),
      ),
    )
    .transform((items) => [...new Set(items.map(Number))]);
}

function webhookUrl() {
  return requiredString()
    .refine((value) => URL.canParse(value), { error: 'not a URL', abort: true })
    .refine(
      (value) => {
        const url = new URL(value);
        return url.protocol === 'https:' || (url.protocol === 'http:' && LOCAL_HOSTS.has(url.hostname));
      },
      { error: 'must be an https:// URL (http:// is allowed only for localhost)' },
    );
}

function webhookSecret() {
  return requiredString('required in webhook mode (WEBHOOK_URL is set)').regex(/^[\w-]{1,256}$/, {
    error: 'must be 1–256 characters from A-Z, a-z, 0-9, _ and -',
  });
}

/** DASHBOARD_TOKEN: long enough not to be guessed, and safe to pass once in a URL (`?token=`). */
function dashboardToken() {
  return requiredString().regex(/^[\w.~-]{16,256}$/, {
    error: 'must be 16–256 characters from A-Z, a-z, 0-9, _, -, . and ~ (for example: openssl rand -hex 32)',
  });
}

/**
 * A model preference (`MODEL_PREFERENCE_FAST`, `…_SMART`): providers to try first, comma-separated,
 * each `name` (its configured model) or `name:model`.
 */
function modelPreference() {
  const names = PROVIDERS.map((descriptor) => descriptor.name);
  return requiredString()
    .transform(splitList)
    .pipe(
      z.array(
        z.string().refine(
          (item) => {
            const [name = '', model] = splitPreference(item);
            return names.includes(name) && model !== '';
          },
          {
            error: (issue) =>
              `${quote(issue.input)} is not <provider> or <provider>:<model> (providers: ${names.join(', ')})`,
          },
        ),
      ),
    )
    .transform((items): RoutePreference[] =>
      items.map((item) => {
        const [provider = '', model] = splitPreference(item);
        return model === undefined ? { provider } : { provider, model };
      }),
    );
}

/** `name:model` → [name, model]; `name` → [name, undefined]. Model ids may hold colons themselves. */
function splitPreference(item: string): [string, string | undefined] {
  const colon = item.indexOf(':');
  return colon === -1 ? [item.trim(), undefined] : [item.slice(0, colon).trim(), item.slice(colon + 1).trim()];
}

export function botFields() {
  return {
    botToken: ['BOT_TOKEN', botToken()],
    telegramApiRoot: ['TELEGRAM_API_ROOT', httpUrl().default('https://api.telegram.org')],
    adminIds: ['ADMIN_IDS', userIds().default([])],
    allowedUserIds: ['ALLOWED_USER_IDS', userIds().default([])],
    redisUrl: ['REDIS_URL', redisUrl().optional()],
    rateLimitPerMinute: ['RATE_LIMIT_PER_MINUTE', wholeNumber(0).default(10)],
    userDailyLimit: ['USER_DAILY_LIMIT', wholeNumber(0).default(0)],
    userDailyMediaLimit: ['USER_DAILY_MEDIA_LIMIT', wholeNumber(0).default(30)],
    userDailyAudioSeconds: ['USER_DAILY_AUDIO_SECONDS', wholeNumber(0).default(1_800)],
    historyMaxMessages: ['HISTORY_MAX_MESSAGES', wholeNumber(2, 1_000).default(20)],
    historyTtlSeconds: ['HISTORY_TTL_SECONDS', wholeNumber(1).default(7 * 24 * 60 * 60)],
    systemPrompt: ['SYSTEM_PROMPT', text(20_000).default(DEFAULT_SYSTEM_PROMPT)],
    streamReplies: ['STREAM_REPLIES', flag().default(true)],
    modelPreferenceFast: ['MODEL_PREFERENCE_FAST', modelPreference().default([])],
    modelPreferenceSmart: ['MODEL_PREFERENCE_SMART', modelPreference().default([])],
    translateDefaultLang: ['TRANSLATE_DEFAULT_LANG', text(64).default('en')],
    translateMaxTexts: ['TRANSLATE_MAX_TEXTS', wholeNumber(1, 10_000).default(200)],
    maxMessageChars: ['MAX_MESSAGE_CHARS', wholeNumber(1, 1_000_000).default(8_000)],
    pasteJoinMs: ['PASTE_JOIN_MS', wholeNumber(0, 10_000).default(1_500)],
    intakeBacklogLimit: ['INTAKE_BACKLOG_LIMIT', wholeNumber(10, 10_000_000).default(10_000)],
    intakeReclaimIdleMs: ['INTAKE_RECLAIM_IDLE_MS', wholeNumber(300, 3_600_000).default(15_000)],
    intakeConcurrency: ['INTAKE_CONCURRENCY', wholeNumber(1, 10_000).default(500)],
    metricsPort: ['METRICS_PORT', port().optional()],
    dashboardToken: ['DASHBOARD_TOKEN', dashboardToken().optional()],
    logLevel: ['LOG_LEVEL', oneOf(LOG_LEVELS).default('info')],
  } as const satisfies FieldSpecs;
}

/** Read only in webhook mode, so a platform's stray `PORT` does not matter when polling. */
export function webhookFields() {
  return {
    url: ['WEBHOOK_URL', webhookUrl()],
    secret: ['WEBHOOK_SECRET', webhookSecret()],
    port: ['PORT', port().default(8080)],
  } as const satisfies FieldSpecs;
}
