import type { Logger } from '../logger';

/**
 * A warning for a recurring problem, logged once per `intervalMs` per message rather than once
 * per try (the intake's loops retry every few hundred milliseconds).
 */
export function warnEvery(logger: Logger, intervalMs = 60_000): (fields: object, message: string) => void {
  const lastAt = new Map<string, number>();
  return (fields, message) => {
    const now = Date.now();
    if ((lastAt.get(message) ?? Number.NEGATIVE_INFINITY) > now - intervalMs) return;
    lastAt.set(message, now);
    logger.warn(fields, message);
  };
}
