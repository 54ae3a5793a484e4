import { createConcurrentSink, createRunner, createSource, type UpdateSupplier } from '@grammyjs/runner';
import type { Bot } from 'grammy';
import type { Update } from 'grammy/types';
import type { BotContext } from '../context';
import type { Logger } from '../logger';

type GetUpdatesParameters = NonNullable<Parameters<Bot<BotContext>['api']['getUpdates']>[0]>;
type GetUpdatesSignal = Parameters<Bot<BotContext>['api']['getUpdates']>[1];

/** Most updates one getUpdates call returns (Telegram's maximum). */
const POLL_LIMIT = 100;
const BUSY_POLL_MS = 10;

export interface PollingOptions {
  readonly allowedUpdates: GetUpdatesParameters['allowed_updates'];
  readonly logger: Logger;
  /** Updates handled at once (different chats; each chat stays in order through `sequentialize`). */
  readonly concurrency?: number;
  /** Long-poll timeout in seconds when nothing is in flight. */
  readonly timeoutSeconds?: number;
  /**
   * Pause between polls while earlier updates are still in flight and no new ones came. Telegram
   * answers such polls at once (it still holds the updates in flight), so nothing can wait for new
   * updates: this pause is how late a new message may be noticed, at most.
   */
  readonly busyPollMs?: number;
  /**
   * Move the offset past an update as soon as it is taken into this process's queue, instead of
   * once it is handled. For a bot without Redis, whose history a crash loses anyway: then a long
   * answer never holds back the chats that write after it (Telegram returns at most 100 updates
   * from the offset). A crash or a shutdown past its grace period loses the updates in flight.
   */
  readonly confirmOnReceipt?: boolean;
}

export interface PollingHandle {
  /** Stops fetching, waits for the updates in flight (up to `graceMs`), confirms them to Telegram. */
  stop(graceMs: number): Promise<void>;
  readonly inFlight: number;
}

/**
 * Long polling through @grammyjs/runner, in one of two ways (docs/architecture.md, "Intake").
 *
 * With `confirmOnReceipt`, the offset moves past updates as soon as they are in this process's
 * queue (the runner's sink, at most `concurrency` updates in flight: a full queue slows intake
 * rather than dropping anything), and polls are long polls.
 *
 * Otherwise it never loses an update. Telegram forgets every update
 * below the `offset` of a getUpdates call, and the runner's own fetcher moves the offset past
 * updates as soon as they arrive; this supplier moves it only past updates that have been
 * handled: the offset is the lowest update still in flight (or one past the newest when none is).
 * A crash or restart therefore gets the unfinished updates again. Updates already seen (sent
 * again because a lower one is still in flight) are skipped.
 */
export function startPolling(bot: Bot<BotContext>, options: PollingOptions): PollingHandle {
  const timeoutSeconds = options.timeoutSeconds ?? 30;
  const busyPollMs = options.busyPollMs ?? BUSY_POLL_MS;
  const logger = options.logger;
  const inFlight = new Map<number, Promise<unknown>>();
  let newest = 0;
  let wake: (() => void) | undefined;
  /** The current pause waits for the offset to move, with no timer (Telegram's answer was full). */
  let waitingForOffset = false;

  const confirmOnReceipt = options.confirmOnReceipt === true;
  // Updates are added in ascending order (only ids above `newest`) and a Map keeps insertion order,
  // so the first key is the lowest in flight.
  const offset = (): number =>
    confirmOnReceipt || inFlight.size === 0 ? newest + 1 : (inFlight.keys().next().value as number);
  /** Waits until the offset moves (the lowest update in flight finished), `ms` passes (when given) or `signal` aborts. */
  const pause = (ms: number | undefined, signal: AbortSignal): Promise<void> =>
    new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        wake = undefined;
        resolve();
      };
      const timer = ms === undefined ? undefined : setTimeout(done, ms);
      waitingForOffset = ms === undefined;
      wake = done;
      signal.addEventListener('abort', done, { once: true });
    });

  const supplier: UpdateSupplier<Update> = {
    async supply(_batchSize, runnerSignal) {
      // The runner types its signal with an older AbortSignal shim; at run time it is Node's.
      const signal = runnerSignal as unknown as AbortSignal;
      let retryMs = 100;
      while (!signal.aborted) {
        // Updates held back by the offset make Telegram answer at once; otherwise poll long.
        const busy = !confirmOnReceipt && inFlight.size > 0;
        const requested = offset();
        let updates: Update[];
        try {
          updates = await bot.api.getUpdates(
            {
              offset: requested,
              limit: POLL_LIMIT,
              // With updates in flight Telegram answers at once (it still holds them): no long poll.
              timeout: busy ? 0 : timeoutSeconds,
              allowed_updates: options.allowedUpdates,
            },
            runnerSignal as GetUpdatesSignal,
          );
          retryMs = 100;
        } catch (error) {
          if (signal.aborted) break;
          logger.warn({ err: error, retryMs }, 'getUpdates failed; retrying');
          await pause(retryMs, signal);
          retryMs = Math.min(retryMs * 2, 30_000);
          continue;
        }
        const fresh = updates.filter((update) => update.update_id > newest);
        if (fresh.length > 0) {
          newest = fresh[fresh.length - 1]!.update_id;
          return fresh;
        }
        // The offset moved while asking (or nothing is in flight any more): ask again at once.
        if (confirmOnReceipt || inFlight.size === 0 || offset() !== requested) continue;
        // A full answer of updates already in flight: nothing new can come before the offset moves,
        // so polling again before then would only fetch the same updates again.
        await pause(updates.length >= POLL_LIMIT ? undefined : busyPollMs, signal);
      }
      return [];
    },
  };

  const sink = createConcurrentSink<Update>(
    {
      consume: (update) => {
        const task = bot.handleUpdate(update).finally(() => {
          const lowest = offset() === update.update_id;
          inFlight.delete(update.update_id);
          // Poll at once when this moves the offset of a poll that waits for it, or leaves nothing
          // in flight (back to long polling). Otherwise the next timed poll confirms it soon enough.
          if (lowest && (waitingForOffset || inFlight.size === 0)) wake?.();
        });
        inFlight.set(update.update_id, task);
        return task;
      },
    },
    async (error) => logger.error({ err: error }, 'update failed'),
    { concurrency: options.concurrency ?? 500 },
  );
  const runner = createRunner(createSource(supplier), sink);
  runner.start();

  return {
    get inFlight() {
      return inFlight.size;
    },
    async stop(graceMs) {
      await runner.stop();
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), graceMs);
      });
      const outcome = await Promise.race([Promise.allSettled([...inFlight.values()]), deadline]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        logger.warn(
          { inFlight: inFlight.size },
          confirmOnReceipt
            ? 'updates still in flight at shutdown are lost (without Redis they were confirmed on receipt)'
            : 'updates still in flight at shutdown; Telegram will send them again',
        );
      }
      // Confirm what was handled, so a restart does not get it again.
      await bot.api.getUpdates({ offset: offset(), limit: 1, timeout: 0 }).catch((error: unknown) => {
        logger.warn({ err: error }, 'could not confirm the handled updates');
      });
    },
  };
}
