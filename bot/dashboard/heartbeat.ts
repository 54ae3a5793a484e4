import type { ProcessRegistry } from '../../storage';
import type { Logger } from '../logger';

export const HEARTBEAT_INTERVAL_MS = 5_000;
/** A process missing three beats drops off the list. */
export const HEARTBEAT_TTL_MS = 3 * HEARTBEAT_INTERVAL_MS;

/**
 * Beats for this process every few seconds (what the dashboard lists as the processes sharing the
 * storage). A failed beat is logged once until one succeeds again. Resolves the stop function,
 * which forgets this process.
 */
export function startHeartbeat(
  registry: ProcessRegistry,
  id: string,
  info: string,
  logger: Logger,
  now: () => number = Date.now,
): () => Promise<void> {
  let failing = false;
  const beat = (): void => {
    registry.beat(id, info, now(), HEARTBEAT_TTL_MS).then(
      () => {
        failing = false;
      },
      (error: unknown) => {
        if (!failing) logger.warn({ err: error }, 'could not write this process’s heartbeat; retrying');
        failing = true;
      },
    );
  };
  beat();
  const timer = setInterval(beat, HEARTBEAT_INTERVAL_MS);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await registry.remove(id).catch(() => undefined);
  };
}
