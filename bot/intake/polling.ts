import { createConcurrentSink, createRunner, createSource, type UpdateSupplier } from '@grammyjs/runner';
import type { Bot } from 'grammy';
import type { Update } from 'grammy/types';
import type { BotContext } from '../context';
import type { Logger } from '../logger';
import { pause } from './pause';

type GetUpdatesParameters = NonNullable<Parameters<Bot<BotContext>['api']['getUpdates']>[0]>;
type GetUpdatesSignal = Parameters<Bot<BotContext>['api']['getUpdates']>[1];

/** Most updates one getUpdates call returns (Telegram's maximum). */
const POLL_LIMIT = 100;

export interface PollingOptions {
  readonly allowedUpdates: GetUpdatesParameters['allowed_updates'];
  readonly logger: Logger;
  /** Updates handled at once (different chats; each chat stays in order through `sequentialize`). */
  readonly concurrency?: number;
  /** Long-poll timeout in seconds. */
  readonly timeoutSeconds?: number;
}

export interface PollingHandle {
  /** Stops fetching, waits for the updates in flight (up to `graceMs`), confirms them to Telegram. */
  stop(graceMs: number): Promise<void>;
  readonly inFlight: number;
}

/**
 * Long polling for a bot without Redis (docs/architecture.md, "Intake"), through
 * @grammyjs/runner: the offset moves past updates as soon as they are in this process's queue
 * (the runner's sink, at most `concurrency` updates in flight: a full queue slows intake rather
 * than dropping anything), so a long answer never holds back the chats that write after it
 * (Telegram returns at most 100 updates from the offset). A crash, or a shutdown past its grace
 * period, loses the updates in flight, as it loses history. With Redis, updates go through the
 * durable queue instead (`leased-polling.ts`).
 */
export function startPolling(bot: Bot<BotContext>, options: PollingOptions): PollingHandle {
  const timeoutSeconds = options.timeoutSeconds ?? 30;
  const logger = options.logger;
  const inFlight = new Set<Promise<unknown>>();
  let newest = 0;

  const supplier: UpdateSupplier<Update> = {
    async supply(_batchSize, runnerSignal) {
      // The runner types its signal with an older AbortSignal shim; at run time it is Node's.
      const signal = runnerSignal as unknown as AbortSignal;
      let retryMs = 100;
      while (!signal.aborted) {
        let updates: Update[];
        try {
          updates = await bot.api.getUpdates(
            { offset: newest + 1, limit: POLL_LIMIT, timeout: timeoutSeconds, allowed_updates: options.allowedUpdates },
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
      }
      return [];
    },
  };

  const sink = createConcurrentSink<Update>(
    {
      consume: (update) => {
        const task = bot.handleUpdate(update).finally(() => inFlight.delete(task));
        inFlight.add(task);
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
      const outcome = await Promise.race([Promise.allSettled([...inFlight]), deadline]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        logger.warn(
          { inFlight: inFlight.size },
          'updates still in flight at shutdown are lost (without Redis they were confirmed on receipt)',
        );
      }
      // Confirms what was taken in, so a restart does not get it again.
      await bot.api.getUpdates({ offset: newest + 1, limit: 1, timeout: 0 }).catch((error: unknown) => {
        logger.warn({ err: error }, 'could not confirm the handled updates');
      });
    },
  };
}
