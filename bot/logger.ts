import pino, { type DestinationStream, type Logger } from 'pino';
import { redactSecrets } from '../providers/shared/secrets';
import type { LogLevel } from './config';

export type { Logger } from 'pino';

export interface LoggerOptions {
  readonly level: LogLevel;
  /** Every secret of the running config (keys, bot token, webhook secret, Redis password). */
  readonly secrets: readonly string[];
  /** Where lines go; standard output by default (tests pass a capture). */
  readonly destination?: DestinationStream;
}

/**
 * Structured JSON logs (pino). Secrets are redacted by the logger itself, not by each call site:
 * known secret-carrying fields are censored by path, and every finished line is scrubbed of every
 * configured secret (masked to `gsk_Xk…LPlN`), wherever it hides — an error message, a URL, a
 * provider's echoed request.
 */
export function createLogger(options: LoggerOptions): Logger {
  const secrets = [...new Set(options.secrets.filter((secret) => secret.length >= 4))].sort(
    (left, right) => right.length - left.length,
  );
  return pino(
    {
      level: options.level,
      base: { app: 'switchboard' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: [
          'apiKey',
          '*.apiKey',
          'token',
          '*.token',
          'botToken',
          '*.botToken',
          'headers.authorization',
          '*.headers.authorization',
          '*.headers["x-goog-api-key"]',
          '*.headers["x-telegram-bot-api-secret-token"]',
        ],
        censor: '[redacted]',
      },
      serializers: { err: pino.stdSerializers.err },
      hooks: secrets.length === 0 ? {} : { streamWrite: (line: string) => redactSecrets(line, secrets) },
    },
    options.destination ?? pino.destination(1),
  );
}
