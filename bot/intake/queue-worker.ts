import type { Bot } from 'grammy';
import type { Update } from 'grammy/types';
import type { ChatTicket, QueuedUpdate, UpdateQueue } from '../../storage';
import type { BotContext } from '../context';
import type { Logger } from '../logger';
import { HandledUpdates } from './handled-updates';
import { pause } from './pause';
import { warnEvery } from './warn-every';
import type { UpdateHooks } from './update-hooks';

export interface QueueWorkerOptions {
  readonly queue: UpdateQueue;
  /** This process's name in the consumer group: unique per process start. */
  readonly consumer: string;
  readonly hooks: UpdateHooks;
  readonly logger: Logger;
  /** How long an update waits for an earlier one of its chat before it goes on without it. */
  readonly orderWaitMs: number;
  /** Updates handled at once by this process (different chats; a chat waits its turn). */
  readonly concurrency?: number;
  /** Tries before an update whose handling fails every time is set aside (dead-lettered). */
  readonly maxAttempts?: number;
  /** Pause before the second try; doubled before each later one. */
  readonly retryDelayMs?: number;
  /**
   * After how long without a sign of life another process takes over a process's entries. Each
   * process touches its entries three times in that time while it works on them.
   */
  readonly reclaimIdleMs?: number;
  /** Tells the update's user, once, that it was set aside. */
  readonly tellSetAside: (update: Update) => Promise<void>;
  readonly onSetAside?: () => void;
  readonly onReclaimed?: (count: number) => void;
  /**
   * The updates this process handled lately, shared with the poller (which handles some itself
   * while Redis is away): one the queue hands out again after a failover is acknowledged again,
   * not answered twice.
   */
  readonly handled?: HandledUpdates;
}

export interface QueueWorker {
  readonly inFlight: number;
  /** Stops taking entries and waits (up to `graceMs`) for those in flight; the rest are reclaimed by others. */
  stop(graceMs: number): Promise<void>;
}

const TAKE_BATCH = 100;
const TAKE_BLOCK_MS = 1000;

/**
 * Handles updates from the shared intake queue (docs/architecture.md, "Intake"). Every bot
 * process runs one worker. An entry is acknowledged once its handling ended (its effect stored
 * and its answer sent); one whose handling failed is tried again here, `maxAttempts` times in all,
 * then set aside in the dead letters and its user told once. An entry handed out more than
 * `maxAttempts` times (its processes died handling it) is set aside at once. Each chat's updates
 * wait for their turn (their ticket, taken when they were appended), whichever process has them.
 */
export function startQueueWorker(bot: Bot<BotContext>, options: QueueWorkerOptions): QueueWorker {
  const { queue, consumer, hooks, logger } = options;
  const concurrency = options.concurrency ?? 500;
  const maxAttempts = options.maxAttempts ?? 3;
  const retryDelayMs = options.retryDelayMs ?? 500;
  const reclaimIdleMs = options.reclaimIdleMs ?? 15_000;
  /**
   * The updates being handled here, by update id, with the entry each came under: an update
   * appended again after a failover comes under a new entry id, and is not handled twice at once.
   */
  const inFlight = new Map<number, { readonly entryId: string; readonly task: Promise<void> }>();
  /**
   * Entries handled here whose acknowledgement Redis did not take (it was away): completed again,
   * their turns marked too, with the next heartbeat.
   */
  const unacknowledged = new Map<string, QueuedUpdate>();
  const handled = options.handled ?? new HandledUpdates();
  let stopping = false;
  let slotFreed: (() => void) | undefined;
  const stopSignal = new AbortController();
  const throttledWarn = warnEvery(logger);
  const warnOnce = (what: string, error: unknown): void => throttledWarn({ err: error }, what);

  /** Redis failed a call since the last heartbeat that reached it. */
  let redisWasAway = false;
  let reclaimPausedUntil = 0;

  /**
   * Completes an entry whose update was handled here: out of the queue, and its turn marked done
   * when `markTurn` (a chat's next update waits for that mark). One Redis does not take is kept
   * and tried again with the next heartbeat; whether Redis took it is returned.
   */
  const complete = async (entry: QueuedUpdate, markTurn: boolean): Promise<boolean> => {
    try {
      await queue.complete(entry, markTurn);
      unacknowledged.delete(entry.entryId);
      return true;
    } catch (error) {
      redisWasAway = true;
      unacknowledged.set(entry.entryId, entry);
      warnOnce('could not acknowledge handled updates; trying again', error);
      return false;
    }
  };
  /**
   * Completes entries again, their turns marked too: a failover may have lost an acknowledgement
   * and its done mark together.
   */
  const completeAgain = async (entries: readonly QueuedUpdate[]): Promise<void> => {
    await Promise.all(entries.map((entry) => complete(entry, entry.ticket !== undefined)));
  };

  const setAside = async (entry: QueuedUpdate, update: Update | undefined, reason: string): Promise<void> => {
    logger.error({ update_id: entry.updateId, deliveries: entry.deliveries, reason }, 'update set aside (dead letter)');
    options.onSetAside?.();
    try {
      await queue.deadLetter(entry, reason);
    } catch (error) {
      warnOnce('could not set an update aside; it will be tried again', error);
      return;
    }
    if (update !== undefined) {
      await options
        .tellSetAside(update)
        .catch((error: unknown) => warnOnce('could not tell a user about a set-aside update', error));
    }
  };

  const waitForTurn = async (ticket: ChatTicket, updateId: number): Promise<void> => {
    const log = { update_id: updateId, chat: ticket.chatId, ticket: ticket.number };
    const outcome = await queue.ordering.waitForTurn(ticket, options.orderWaitMs).catch((error: unknown) => {
      logger.warn({ err: error, ...log }, 'waiting for the chat order failed; handling now');
      return 'unordered' as const;
    });
    if (outcome === 'gave-up')
      logger.warn(log, 'an earlier update of this chat did not finish in time; going on without it');
  };

  const handle = async (entry: QueuedUpdate): Promise<void> => {
    let update: Update | undefined;
    try {
      const parsed = JSON.parse(entry.payload) as Update;
      if (typeof parsed?.update_id === 'number') update = parsed;
    } catch {
      update = undefined;
    }
    const ticket = entry.ticket;
    let turnDone = false;
    const releaseTurn = (): void => {
      if (ticket === undefined || turnDone) return;
      turnDone = true;
      void queue.ordering
        .done(ticket)
        .catch((error: unknown) => warnOnce('could not mark an update done in its chat order', error));
    };
    try {
      if (update === undefined) {
        await setAside(entry, undefined, 'not a Telegram update (unreadable JSON)');
        return;
      }
      if (entry.deliveries > maxAttempts) {
        await setAside(
          entry,
          update,
          `handed out ${entry.deliveries} times: the processes handling it stopped each time`,
        );
        return;
      }
      if (ticket !== undefined && entry.firstInLine !== true) await waitForTurn(ticket, update.update_id);
      let failure: unknown;
      for (let attempt = 1; ; attempt++) {
        hooks.watch(update.update_id, releaseTurn);
        try {
          await bot.handleUpdate(update);
        } catch (error) {
          hooks.failed(update.update_id, error);
        }
        failure = hooks.finish(update.update_id);
        if (failure === undefined || attempt >= maxAttempts || stopping) break;
        logger.warn({ err: failure, update_id: update.update_id, attempt }, 'update failed; trying it again');
        await pause(retryDelayMs * 2 ** (attempt - 1), stopSignal.signal);
      }
      if (failure === undefined) {
        // Acknowledged and its turn passed on in one step (the turn may have gone already: a paste).
        handled.add(entry.updateId);
        const markTurn = ticket !== undefined && !turnDone;
        if ((await complete(entry, markTurn)) && markTurn) turnDone = true;
      } else if (!stopping) {
        const name = failure instanceof Error ? failure.name : typeof failure;
        await setAside(entry, update, `handling failed ${maxAttempts} times: ${name}`);
      }
      // Stopping with a failed update: left to be reclaimed (its count of deliveries goes on).
    } finally {
      releaseTurn();
    }
  };

  /**
   * Handles an entry taken, reclaimed or handed again. One this process holds already is left
   * alone (reclaimed back from itself while Redis was away). One whose update is being handled
   * under another entry (appended again on a new master) is completed once that handling ends;
   * one whose update was handled here already is completed at once: a failover handed it out
   * again (see `HandledUpdates`).
   */
  const start = (entry: QueuedUpdate): void => {
    const running = inFlight.get(entry.updateId);
    if (running?.entryId === entry.entryId) return;
    if (running !== undefined || handled.has(entry.updateId)) {
      logger.warn(
        { update_id: entry.updateId, deliveries: entry.deliveries },
        'an update handled here was handed out again (a Redis failover lost its acknowledgement); acknowledging it again',
      );
      void (running?.task ?? Promise.resolve()).then(() => completeAgain([entry]));
      return;
    }
    const task = handle(entry)
      .catch((error: unknown) => logger.error({ err: error, update_id: entry.updateId }, 'update failed'))
      .finally(() => {
        inFlight.delete(entry.updateId);
        slotFreed?.();
      });
    inFlight.set(entry.updateId, { entryId: entry.entryId, task });
  };

  const takeLoop = async (): Promise<void> => {
    let retryMs = 100;
    while (!stopping) {
      if (inFlight.size >= concurrency) {
        await new Promise<void>((resolve) => {
          slotFreed = resolve;
        });
        slotFreed = undefined;
        continue;
      }
      let entries: QueuedUpdate[];
      try {
        entries = await queue.take(consumer, Math.min(TAKE_BATCH, concurrency - inFlight.size), TAKE_BLOCK_MS);
        retryMs = 100;
      } catch (error) {
        redisWasAway = true;
        warnOnce('could not read the intake queue; retrying', error);
        await pause(retryMs, stopSignal.signal);
        retryMs = Math.min(retryMs * 2, 5000);
        continue;
      }
      for (const entry of entries) start(entry);
    }
  };

  /** Touches this process's entries (it is alive), writes acknowledgements that failed, takes over those of dead processes. */
  const heartbeat = async (): Promise<void> => {
    try {
      const lost = await queue.touch(consumer, [
        ...[...inFlight.values()].map((running) => running.entryId),
        ...unacknowledged.keys(),
      ]);
      // Entries still pending for this process that it does not hold: handed to it by a take
      // whose reply never arrived (a failover), or done here with an acknowledgement a failover
      // threw away. The first are handled now, the second completed again (`start` tells them apart).
      const undelivered = lost.filter((entry) => !handled.has(entry.updateId));
      if (undelivered.length > 0) {
        logger.warn({ count: undelivered.length }, 'took up updates handed to this process whose delivery was lost');
      }
      for (const entry of lost) start(entry);
      if (redisWasAway) {
        // Every process's entries look idle after an outage (nobody could touch them): taking
        // over now would handle again what their living owners have answered. Wait one idle time,
        // in which the owners touch theirs and write their acknowledgements.
        redisWasAway = false;
        reclaimPausedUntil = Date.now() + reclaimIdleMs;
      }
      if (unacknowledged.size > 0) await completeAgain([...unacknowledged.values()]);
      if (stopping || inFlight.size >= concurrency || Date.now() < reclaimPausedUntil) return;
      const reclaimed = await queue.reclaim(consumer, reclaimIdleMs, Math.min(TAKE_BATCH, concurrency - inFlight.size));
      if (reclaimed.length > 0) {
        logger.warn({ count: reclaimed.length }, 'took over updates another process left unfinished');
        options.onReclaimed?.(reclaimed.length);
        for (const entry of reclaimed) start(entry);
      }
    } catch (error) {
      redisWasAway = true;
      warnOnce('intake heartbeat failed; retrying', error);
    }
  };
  let beating = false;
  const timer = setInterval(
    () => {
      if (beating) return;
      beating = true;
      void heartbeat().finally(() => {
        beating = false;
      });
    },
    Math.max(50, Math.floor(reclaimIdleMs / 3)),
  );
  timer.unref();
  const loop = takeLoop();

  return {
    get inFlight() {
      return inFlight.size;
    },
    async stop(graceMs) {
      stopping = true;
      stopSignal.abort();
      slotFreed?.();
      clearInterval(timer);
      let graceTimer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'timeout'>((resolve) => {
        graceTimer = setTimeout(() => resolve('timeout'), graceMs);
      });
      const outcome = await Promise.race([
        Promise.allSettled([loop, ...[...inFlight.values()].map((running) => running.task)]),
        deadline,
      ]);
      clearTimeout(graceTimer);
      if (unacknowledged.size > 0) await completeAgain([...unacknowledged.values()]);
      if (outcome === 'timeout') {
        logger.warn(
          { inFlight: inFlight.size },
          'updates still in flight at shutdown; another process takes them over',
        );
      }
    },
  };
}
