import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Bot } from 'grammy';
import type { BotContext } from '../../bot/context';
import { HandledUpdates } from '../../bot/intake/handled-updates';
import { type LeasedPolling, startLeasedPolling } from '../../bot/intake/leased-polling';
import { type QueueWorker, startQueueWorker } from '../../bot/intake/queue-worker';
import { UpdateHooks } from '../../bot/intake/update-hooks';
import { createLogger } from '../../bot/logger';
import { MemoryLease } from '../../storage/memory/lease';
import { MemoryUpdateQueue } from '../../storage/memory/update-queue';
import { RedisChatOrdering } from '../../storage/redis/chat-ordering';
import { type QueuedUpdate, StorageUnavailableError, type UpdateQueue } from '../../storage/types';
import { type FakeTelegramServer, startFakeTelegramServer } from '../fakes/telegram-server';
import { until } from '../helpers/bot-harness';
import { redisForSuite } from '../helpers/redis-suite';

/**
 * What the durable intake does about a Redis failover, with the failover played by a queue that
 * forgets or refuses on cue (the real thing runs in tests/e2e/redis-sentinel.test.ts and
 * redis-cluster.test.ts): an entry handed out again after it was handled is acknowledged, not
 * answered twice; an update Redis took unconfirmed before going away is not handled in the
 * poller's process while Redis may come back with it; a done mark that failed is written as soon
 * as Redis answers a read, with no reconnect.
 */
const silent = createLogger({ level: 'silent', secrets: [] });
const user = (index: number) => ({ id: 7100 + index, first_name: `User ${index}` });

let telegram: FakeTelegramServer;
beforeAll(async () => {
  telegram = await startFakeTelegramServer();
});
afterAll(() => telegram.stop());

/** The memory queue, with some of its methods played otherwise. */
function queueOver(memory: MemoryUpdateQueue, overrides: Partial<UpdateQueue>): UpdateQueue {
  return {
    ordering: memory.ordering,
    append: (updateId, payload, chatId) => memory.append(updateId, payload, chatId),
    confirmDurable: () => memory.confirmDurable(),
    take: (consumer, count, blockMs) => memory.take(consumer, count, blockMs),
    reclaim: (consumer, idleMs, count) => memory.reclaim(consumer, idleMs, count),
    touch: (consumer, holding) => memory.touch(consumer, holding),
    complete: (entry, markTurn) => memory.complete(entry, markTurn),
    ack: (entryIds) => memory.ack(entryIds),
    deadLetter: (entry, reason) => memory.deadLetter(entry, reason),
    backlog: () => memory.backlog(),
    deadLetters: (count) => memory.deadLetters(count),
    ...overrides,
  };
}

/** A bot that notes each text update it handles. */
function recordingBot(handled: number[]): Bot<BotContext> {
  const bot = new Bot<BotContext>(telegram.token, { client: { apiRoot: telegram.apiRoot }, botInfo: telegram.botInfo });
  bot.on('message:text', (ctx) => {
    handled.push(ctx.update.update_id);
  });
  return bot;
}

describe('the queue worker after a failover', () => {
  let worker: QueueWorker | undefined;
  afterEach(async () => {
    await worker?.stop(1000);
    worker = undefined;
    telegram.reset();
  });

  it('acknowledges again, marking its turn, an update it handled that the queue hands out again', async () => {
    const handled: number[] = [];
    const memory = new MemoryUpdateQueue();
    const completed: { entryId: string; markTurn: boolean }[] = [];
    /** Entries the next take hands out as well: the new master's copy of one handled on the old. */
    const again: QueuedUpdate[] = [];
    const queue = queueOver(memory, {
      take: async (consumer, count, blockMs) => [
        ...again.splice(0),
        ...(await memory.take(consumer, count, Math.min(blockMs, 50))),
      ],
      complete: async (entry, markTurn) => {
        completed.push({ entryId: entry.entryId, markTurn });
        await memory.complete(entry, markTurn);
      },
    });
    worker = startQueueWorker(recordingBot(handled), {
      queue,
      consumer: 'worker-1',
      hooks: new UpdateHooks(),
      logger: silent,
      orderWaitMs: 60_000,
      tellSetAside: async () => undefined,
    });

    const update = telegram.sendText(user(1), 'hello');
    const chatId = String(user(1).id);
    await memory.append(update.update_id, JSON.stringify(update), chatId);
    await until(() => completed.length === 1, 'the update to be handled and completed');
    // The failover lost its delivery and acknowledgement: the new master hands it out again (here
    // under another entry id, as when it was appended again there), and the chat's next ticket waits.
    again.push({
      entryId: 'new-master-1',
      updateId: update.update_id,
      payload: JSON.stringify(update),
      deliveries: 1,
      ticket: { chatId, number: 2 },
      firstInLine: false,
    });
    const next = telegram.sendText(user(1), 'and then');
    await memory.ordering.take(chatId); // ticket 2, the copy's
    await memory.append(next.update_id, JSON.stringify(next), chatId); // ticket 3: waits for 2
    await until(() => handled.includes(next.update_id), 'the next update to get its turn', 5000);

    expect(handled).toEqual([update.update_id, next.update_id]);
    expect(completed).toContainEqual({ entryId: 'new-master-1', markTurn: true });
  });
});

describe('the poller when Redis goes away with an update it took unconfirmed', () => {
  let polling: LeasedPolling | undefined;
  afterEach(async () => {
    await polling?.stop(1000);
    polling = undefined;
    telegram.reset();
  });

  /** A queue that takes the first append and goes away before confirming it, until `back()`. */
  function failingOverQueue(): { queue: UpdateQueue; back: () => void; appends: number[] } {
    const memory = new MemoryUpdateQueue();
    let away = false;
    let confirms = false;
    const appends: number[] = [];
    const queue = queueOver(memory, {
      append: async (updateId, payload, chatId) => {
        // The client knows the connection is gone: the append is not sent.
        if (away) throw new StorageUnavailableError('Redis is unavailable: a failover', { notApplied: true });
        appends.push(updateId);
        return memory.append(updateId, payload, chatId);
      },
      confirmDurable: async () => {
        if (confirms) return true;
        away = true; // gone before a replica had it
        return false;
      },
    });
    return {
      queue,
      appends,
      back: () => {
        away = false;
        confirms = true;
      },
    };
  }

  function poll(queue: UpdateQueue, handled: number[], maybeQueuedWaitMs?: number): void {
    polling = startLeasedPolling(recordingBot(handled), {
      queue,
      lease: new MemoryLease(),
      holder: 'poller-1',
      allowedUpdates: ['message'],
      logger: silent,
      backlogFull: () => false,
      timeoutSeconds: 1,
      handled: new HandledUpdates(),
      ...(maybeQueuedWaitMs === undefined ? {} : { maybeQueuedWaitMs }),
    });
  }

  it('waits for Redis rather than answer it here, handles other chats meanwhile, and queues it once', async () => {
    const handled: number[] = [];
    const { queue, back, appends } = failingOverQueue();
    poll(queue, handled);
    await telegram.waitForPolling();
    const taken = telegram.sendText(user(2), 'taken, not confirmed');
    await until(() => appends.includes(taken.update_id), 'the first append');
    const other = telegram.sendText(user(3), 'another chat, while Redis is away');
    await until(() => handled.includes(other.update_id), 'the other chat to be answered here', 5000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(handled).toEqual([other.update_id]);
    expect(telegram.updatesConfirmed()).toBeLessThanOrEqual(taken.update_id);

    back();
    await until(() => telegram.updatesConfirmed() > other.update_id, 'the updates to be confirmed', 5000);
    expect(handled).toEqual([other.update_id]); // the first is the queue's to hand out
    expect(await queue.backlog()).toBe(1);
    expect(appends.filter((id) => id === taken.update_id).length).toBeGreaterThan(1); // appended again, queued once
  });

  it('waits for Redis, too, when an append’s answer was lost with the connection (Redis may have it), and queues it once', async () => {
    const handled: number[] = [];
    const memory = new MemoryUpdateQueue();
    let away = false;
    const appends: number[] = [];
    const queue = queueOver(memory, {
      append: async (updateId, payload, chatId) => {
        if (away) throw new StorageUnavailableError('Redis is unavailable: a failover', { notApplied: true });
        appends.push(updateId);
        const appended = await memory.append(updateId, payload, chatId);
        if (appends.length === 1) {
          // Redis took the first one, and the connection went before its answer came.
          away = true;
          throw new StorageUnavailableError('Redis is unavailable: Connection is closed.');
        }
        return appended;
      },
      confirmDurable: async () => true,
    });
    poll(queue, handled);
    await telegram.waitForPolling();
    const lost = telegram.sendText(user(5), 'its answer was lost');
    await until(() => appends.includes(lost.update_id), 'the first append');
    const other = telegram.sendText(user(6), 'another chat, while Redis is away');
    await until(() => handled.includes(other.update_id), 'the other chat to be answered here', 5000);
    expect(handled).toEqual([other.update_id]);
    expect(telegram.updatesConfirmed()).toBeLessThanOrEqual(lost.update_id);

    away = false;
    await until(() => telegram.updatesConfirmed() > other.update_id, 'the updates to be confirmed', 5000);
    expect(handled).toEqual([other.update_id]); // the first is the queue's to hand out, once
    expect(await queue.backlog()).toBe(1);
  });

  it('answers it here once Redis has been away for longer than the wait', async () => {
    const handled: number[] = [];
    const { queue, appends } = failingOverQueue();
    poll(queue, handled, 400);
    await telegram.waitForPolling();
    const taken = telegram.sendText(user(4), 'taken, then Redis stays away');
    await until(() => appends.includes(taken.update_id), 'the first append');
    await until(() => handled.includes(taken.update_id), 'the update to be answered here', 5000);
    await until(() => telegram.updatesConfirmed() > taken.update_id, 'the update to be confirmed', 5000);
    expect(handled).toEqual([taken.update_id]);
  });
});

describe('a done mark that failed', () => {
  const redis = redisForSuite();

  it('is written as soon as a read of the line answers, without a reconnect (a Cluster shard failed over)', async () => {
    const { main, subscriber } = await redis.processClients();
    const ordering = new RedisChatOrdering(main, subscriber, { prefix: `test:${randomUUID()}:`, recheckMs: 100 });
    const first = await ordering.take('k');
    const second = await ordering.take('k');

    // The mark does not reach Redis (the shard's master is gone), and the connection never drops.
    const commands = main as unknown as { switchboardServeTurn: (...args: unknown[]) => Promise<number> };
    const serve = commands.switchboardServeTurn;
    commands.switchboardServeTurn = () => {
      commands.switchboardServeTurn = serve;
      return Promise.reject(new Error('Connection is closed.'));
    };
    await expect(ordering.done(first)).rejects.toThrow(StorageUnavailableError);

    const started = performance.now();
    expect(await ordering.waitForTurn(second, 10_000)).toBe('turn');
    expect(performance.now() - started).toBeLessThan(2000);
    expect(main.status).toBe('ready');
  });
});
