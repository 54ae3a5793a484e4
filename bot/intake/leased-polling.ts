import { type Bot, Context, GrammyError } from 'grammy';
import type { Update } from 'grammy/types';
import { isStorageUnavailable, type Lease, type UpdateQueue } from '../../storage';
import type { BotContext } from '../context';
import { isStopPress } from '../features/answer-buttons';
import type { Logger } from '../logger';
import type { HandledUpdates } from './handled-updates';
import { pause } from './pause';
import { warnEvery } from './warn-every';

type GetUpdatesParameters = NonNullable<Parameters<Bot<BotContext>['api']['getUpdates']>[0]>;
type GetUpdatesSignal = Parameters<Bot<BotContext>['api']['getUpdates']>[1];

const POLL_LIMIT = 100;

export interface LeasedPollingOptions {
  readonly queue: UpdateQueue;
  readonly lease: Lease;
  /** This process's name as the lease's holder: unique per process start. */
  readonly holder: string;
  readonly allowedUpdates: GetUpdatesParameters['allowed_updates'];
  readonly logger: Logger;
  /** Whether the queue holds too much already: then polling waits (intake slows, nothing is dropped). */
  readonly backlogFull: () => boolean;
  /** How long the lease lasts without renewal: another process polls at most about this long after this one died. */
  readonly leaseTtlMs?: number;
  /** Long-poll timeout in seconds. */
  readonly timeoutSeconds?: number;
  readonly onPollerChange?: (polling: boolean) => void;
  /** Updates handled in this process at once while Redis is away (`sequentialize` keeps each chat in order). */
  readonly localConcurrency?: number;
  /**
   * How long an update that may be in the queue already (appended, not yet confirmed on a replica,
   * when Redis went away) waits for Redis to come back before this process handles it itself: a
   * failover's new master may hold it, and would hand it out again.
   */
  readonly maybeQueuedWaitMs?: number;
  /** Where the updates handled in this process are noted, for the queue worker (`HandledUpdates`). */
  readonly handled?: HandledUpdates;
}

export interface LeasedPolling {
  /** Whether this process is the one polling Telegram now. */
  readonly polling: boolean;
  /**
   * Stops polling, waits (up to `graceMs`) for updates handled here while Redis was away, confirms
   * what was taken in to Telegram and gives the lease up at once.
   */
  stop(graceMs?: number): Promise<void>;
}

/**
 * The chat line an update is put in: its chat as grammY sees it (the key `sequentialize` uses), as
 * text; none for updates without a chat, and none for a Stop press, which must reach the answer it
 * stops while that answer still holds the chat's line.
 */
export function chatIdOf(bot: Bot<BotContext>, update: Update): string | undefined {
  if (isStopPress(update)) return undefined;
  const id = new Context(update, bot.api, bot.botInfo).chat?.id;
  return id === undefined ? undefined : String(id);
}

/**
 * Appends updates in the order Telegram sent them (one connection keeps the order of commands).
 * Resolves with the updates that could not be appended (none when all were), and among them
 * those whose append may have reached Redis all the same (its answer lost with the connection).
 */
export async function appendUpdates(
  bot: Bot<BotContext>,
  queue: UpdateQueue,
  updates: readonly Update[],
): Promise<{ readonly failed: Update[]; readonly maybeApplied: Update[]; readonly error: unknown }> {
  const outcomes = await Promise.allSettled(
    updates.map((update) => queue.append(update.update_id, JSON.stringify(update), chatIdOf(bot, update))),
  );
  const failed: Update[] = [];
  const maybeApplied: Update[] = [];
  let error: unknown;
  updates.forEach((update, index) => {
    const outcome = outcomes[index]!;
    if (outcome.status === 'fulfilled') return;
    failed.push(update);
    error ??= outcome.reason;
    if (!(isStorageUnavailable(outcome.reason) && outcome.reason.notApplied)) maybeApplied.push(update);
  });
  return { failed, maybeApplied, error };
}

/**
 * Long polling for processes sharing Redis (docs/architecture.md, "Intake"): the process holding
 * the poller lease (a Redis key with a TTL, renewed three times per TTL) calls getUpdates and
 * appends what it gets to the shared queue; the offset moves past updates once they are in the
 * queue. Every process handles updates from the queue (`startQueueWorker`). When the poller dies,
 * its lease lapses and another process polls within about `leaseTtlMs` plus a second; it starts
 * from Telegram's own offset, and updates fetched twice are queued once.
 *
 * While Redis is away nobody can take the lease over, so the poller keeps polling and handles
 * what it cannot queue in this process, each chat in order, confirmed on receipt: the bot keeps
 * answering, and only a crash during the outage loses the updates then in flight (as without
 * Redis). The other processes do not poll meanwhile (they would fetch the same updates), nor does
 * anyone before Redis has answered once. When Redis answers again, a renewal that finds another
 * holder ends this process's polling.
 */
export function startLeasedPolling(bot: Bot<BotContext>, options: LeasedPollingOptions): LeasedPolling {
  const { queue, lease, holder, logger } = options;
  const ttlMs = options.leaseTtlMs ?? 6000;
  const timeoutSeconds = options.timeoutSeconds ?? 25;
  const stopping = new AbortController();
  let polling = false;
  let offset: number | undefined;
  const warn = warnEvery(logger);
  const localConcurrency = options.localConcurrency ?? 500;
  const local = new Set<Promise<void>>();
  let localSlotFreed: (() => void) | undefined;
  const maybeQueuedWaitMs = options.maybeQueuedWaitMs ?? 20_000;
  /**
   * Updates appended (Redis took them) but not confirmed on a replica, or whose append failed in a
   * way that may have reached Redis, by update id, with when that was first so: until the offset
   * moves past them they may be in the queue, or not.
   */
  const maybeQueued = new Map<number, number>();
  /** Notes updates as maybe queued, from now (an update already noted keeps its first moment). */
  const noteMaybeQueued = (updates: readonly Update[]): void => {
    const now = Date.now();
    for (const update of updates) if (!maybeQueued.has(update.update_id)) maybeQueued.set(update.update_id, now);
  };
  /** Updates handled here since the offset last moved (it may wait on one that may be queued). */
  const handledHere = new Set<number>();

  /** Handles an update in this process (Redis away), at most `localConcurrency` at once. */
  const handleLocally = async (update: Update): Promise<void> => {
    while (local.size >= localConcurrency) {
      await new Promise<void>((resolve) => {
        localSlotFreed = resolve;
      });
    }
    options.handled?.add(update.update_id);
    const task = bot
      .handleUpdate(update)
      .catch((error: unknown) => logger.error({ err: error, update_id: update.update_id }, 'update failed'))
      .finally(() => {
        local.delete(task);
        localSlotFreed?.();
      });
    local.add(task);
  };

  const setPolling = (value: boolean): void => {
    if (polling === value) return;
    polling = value;
    logger.info(value ? 'this process now polls Telegram for updates' : 'this process no longer polls Telegram');
    options.onPollerChange?.(value);
  };

  /** Polls while the lease is held: ends when it is lost or polling stops. */
  const pollWhileLeader = async (): Promise<void> => {
    const term = new AbortController();
    const end = (): void => term.abort();
    stopping.signal.addEventListener('abort', end, { once: true });
    // A renewal that finds another holder ends polling here; one that fails (Redis away) does not:
    // nobody can take the lease while Redis is away.
    const renew = setInterval(
      () => {
        lease.acquire(holder, ttlMs).then(
          (held) => {
            if (!held) end();
          },
          () => undefined,
        );
      },
      Math.floor(ttlMs / 3),
    );
    setPolling(true);
    let retryMs = 100;
    try {
      while (!term.signal.aborted) {
        if (options.backlogFull()) {
          warn({}, 'the intake queue is over its backlog limit; polling waits for the workers to catch up');
          await pause(500, term.signal);
          continue;
        }
        let updates: Update[];
        try {
          updates = await bot.api.getUpdates(
            {
              ...(offset === undefined ? {} : { offset }),
              limit: POLL_LIMIT,
              timeout: timeoutSeconds,
              allowed_updates: options.allowedUpdates,
            },
            term.signal as GetUpdatesSignal,
          );
          retryMs = 100;
        } catch (error) {
          if (term.signal.aborted) break;
          // 409: another getUpdates (a process that took over) ended this one.
          const conflict = error instanceof GrammyError && error.error_code === 409;
          if (!conflict) logger.warn({ err: error, retryMs }, 'getUpdates failed; retrying');
          await pause(conflict ? 1000 : retryMs, term.signal);
          retryMs = Math.min(retryMs * 2, 30_000);
          continue;
        }
        if (updates.length === 0) continue;
        // Fetched again while the offset waits on an update that may be queued (below): those
        // handled here meanwhile are done.
        const fetched = updates.filter((update) => !handledHere.has(update.update_id));
        // Into the queue before the offset moves past them; what cannot be queued (Redis away) is
        // handled here.
        let { failed, maybeApplied, error } = await appendUpdates(bot, queue, fetched);
        // A failed append may have reached Redis before it went away (the answer was lost): try
        // again for about a second, where an update already queued counts as queued. One that may
        // have reached it waits for Redis below like one taken unconfirmed: answered here, it would
        // be answered again from the queue once Redis is back.
        noteMaybeQueued(maybeApplied);
        for (let retryMs = 100; failed.length > 0 && retryMs <= 400 && !term.signal.aborted; retryMs *= 2) {
          await pause(retryMs, term.signal);
          ({ failed, maybeApplied, error } = await appendUpdates(bot, queue, failed));
          noteMaybeQueued(maybeApplied);
        }
        // On a replica before Telegram forgets them (a failover loses what only the master had):
        // when no replica took them, the offset stays and they are fetched and appended again.
        if (failed.length < fetched.length && !(await queue.confirmDurable())) {
          noteMaybeQueued(fetched.filter((update) => !failed.includes(update)));
          await pause(200, term.signal);
          continue;
        }
        // An update Redis took without confirming it, and that cannot be appended again now, may
        // be in the queue on the replica a failover promotes, which would hand it out once more:
        // rather than answer it twice, it waits for Redis (the offset stays), `maybeQueuedWaitMs`
        // at most, and so do its chat's later updates. Appended again on the new master, it is
        // queued once (its id was seen there) or, if that master lost it, now.
        const now = Date.now();
        const waiting = failed.filter(
          (update) => now - (maybeQueued.get(update.update_id) ?? Number.NEGATIVE_INFINITY) < maybeQueuedWaitMs,
        );
        const waitingChats = new Set(waiting.map((update) => chatIdOf(bot, update)));
        waitingChats.delete(undefined);
        const here = failed.filter((update) => {
          if (waiting.includes(update)) return false;
          const chat = chatIdOf(bot, update);
          return chat === undefined || !waitingChats.has(chat);
        });
        if (here.length > 0) {
          warn(
            { err: error, count: here.length },
            'could not queue updates (Redis away): handling them in this process until it is back',
          );
          for (const update of here) {
            handledHere.add(update.update_id);
            await handleLocally(update);
          }
        }
        if (waiting.length > 0) {
          warn(
            { err: error, count: waiting.length },
            'Redis went away before updates it took were on a replica: they wait for it (a failover)',
          );
          await pause(250, term.signal);
          continue;
        }
        offset = updates[updates.length - 1]!.update_id + 1;
        for (const updateId of maybeQueued.keys()) if (updateId < offset) maybeQueued.delete(updateId);
        handledHere.clear();
      }
    } finally {
      clearInterval(renew);
      stopping.signal.removeEventListener('abort', end);
      setPolling(false);
    }
  };

  const loop = (async () => {
    while (!stopping.signal.aborted) {
      // Redis away (the call fails): not held. Only a poller keeps polling through an outage
      // (below); were the others to poll too, each would handle the same updates.
      const held = await lease.acquire(holder, ttlMs).catch(() => false);
      if (held) await pollWhileLeader();
      else await pause(1000, stopping.signal);
    }
  })();

  return {
    get polling() {
      return polling;
    },
    async stop(graceMs = 9_000) {
      stopping.abort();
      await loop;
      if (local.size > 0) {
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, graceMs);
        });
        await Promise.race([Promise.allSettled([...local]), deadline]);
        clearTimeout(timer);
      }
      if (offset !== undefined) {
        // Confirms what is queued, so the next poller does not fetch it again.
        await bot.api.getUpdates({ offset, limit: 1, timeout: 0 }).catch((error: unknown) => {
          logger.warn({ err: error }, 'could not confirm the queued updates');
        });
      }
      await lease.release(holder).catch(() => undefined);
    },
  };
}
