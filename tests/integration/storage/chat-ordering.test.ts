import { randomUUID } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { MemoryChatOrdering } from '../../../storage/memory/chat-ordering';
import { RedisChatOrdering } from '../../../storage/redis/chat-ordering';
import { type ChatOrdering, isStorageUnavailable, type TurnOutcome } from '../../../storage/types';
import { redisForSuite } from '../../helpers/redis-suite';

/** A promise whose outcome can be looked at without awaiting it. */
function watch<T>(promise: Promise<T>): { readonly settled: () => boolean; readonly promise: Promise<T> } {
  let settled = false;
  const watched = promise.finally(() => {
    settled = true;
  });
  return { settled: () => settled, promise: watched };
}

/** Lets pending promise callbacks and one round trip to Redis run. */
async function flush(ordering: ChatOrdering): Promise<void> {
  await ordering.take(`flush:${randomUUID()}`);
  await new Promise((resolve) => setImmediate(resolve));
}

const redis = redisForSuite();
const client = (options?: { connect?: boolean }): Promise<Redis> => redis.client(options);

/** A Redis ordering as one bot process has it: its own connection and its own subscriber. */
async function redisOrdering(prefix: string, recheckMs?: number): Promise<RedisChatOrdering> {
  const subscriber = await client();
  const ordering = new RedisChatOrdering(await client(), subscriber, {
    prefix,
    ...(recheckMs === undefined ? {} : { recheckMs }),
  });
  // The constructor sent SUBSCRIBE; a connection answers in order, so after this PING it is subscribed.
  await subscriber.ping();
  return ordering;
}

const orderings: [string, () => Promise<ChatOrdering>][] = [
  ['memory', async () => new MemoryChatOrdering()],
  ['redis', () => redisOrdering(`test:${randomUUID()}:`)],
];

describe.each(orderings)('ChatOrdering contract: %s', (_name, create) => {
  it('numbers each chat’s tickets 1, 2, 3 … apart from other chats', async () => {
    const ordering = await create();
    const numbers = [];
    for (const chatId of ['a', 'a', 'b', 'a', 'b']) numbers.push((await ordering.take(chatId)).number);
    expect(numbers).toEqual([1, 2, 1, 3, 2]);
  });

  it('lets a ticket go only when every earlier ticket of its chat is done, in order', async () => {
    const ordering = await create();
    const [first, second, third] = [await ordering.take('c'), await ordering.take('c'), await ordering.take('c')];
    const other = await ordering.take('d');
    expect(await ordering.waitForTurn(first!, 60_000)).toBe('turn');
    expect(await ordering.waitForTurn(other, 60_000)).toBe('turn');
    const thirdTurn = watch(ordering.waitForTurn(third!, 60_000));
    const secondTurn = watch(ordering.waitForTurn(second!, 60_000));
    await flush(ordering);
    expect([secondTurn.settled(), thirdTurn.settled()]).toEqual([false, false]);

    await ordering.done(first!);
    expect(await secondTurn.promise).toBe('turn');
    await flush(ordering);
    expect(thirdTurn.settled()).toBe(false);

    await ordering.done(second!);
    expect(await thirdTurn.promise).toBe('turn');
    await ordering.done(third!);
    const fourth = await ordering.take('c');
    expect(await ordering.waitForTurn(fourth, 60_000)).toBe('turn');
  });

  it('counts every earlier ticket as done when a later one is (served only grows)', async () => {
    const ordering = await create();
    const tickets = [];
    for (let index = 0; index < 4; index++) tickets.push(await ordering.take('e'));
    const lastTurn = watch(ordering.waitForTurn(tickets[3]!, 60_000));
    await ordering.done(tickets[2]!);
    expect(await lastTurn.promise).toBe('turn');
    await ordering.done(tickets[0]!); // late, changes nothing
    const next = await ordering.take('e');
    const nextTurn = watch(ordering.waitForTurn(next, 60_000));
    await flush(ordering);
    expect(nextTurn.settled()).toBe(false);
    await ordering.done(tickets[3]!);
    expect(await nextTurn.promise).toBe('turn');
  });

  it('gives up on an earlier ticket that never finishes, and only the next one gives up first', async () => {
    const ordering = await create();
    await ordering.take('f'); // its process dies: never done
    const [second, third] = [await ordering.take('f'), await ordering.take('f')];
    const started = performance.now();
    const thirdTurn = watch(ordering.waitForTurn(third!, 150));
    const secondOutcome: TurnOutcome = await ordering.waitForTurn(second!, 150);
    const waited = performance.now() - started;
    expect(secondOutcome).toBe('gave-up');
    expect(waited).toBeGreaterThanOrEqual(140);
    expect(waited).toBeLessThan(5000);
    // The third waits for the second (alive), not for the dead first one.
    await flush(ordering);
    expect(thirdTurn.settled()).toBe(false);
    await ordering.done(second!);
    expect(await thirdTurn.promise).toBe('turn');
  });
});

describe('RedisChatOrdering across processes', () => {
  it('wakes a waiter in one process when another marks the earlier ticket done (pub/sub, not polling)', async () => {
    const prefix = `test:${randomUUID()}:`;
    // Re-reads only once a minute: a wake-up within the test can only come from a notification.
    const [processA, processB] = [await redisOrdering(prefix, 60_000), await redisOrdering(prefix, 60_000)];
    const first = await processA.take('g');
    const second = await processB.take('g');
    expect([first.number, second.number]).toEqual([1, 2]);
    const secondTurn = watch(processB.waitForTurn(second, 60_000));
    await flush(processB);
    expect(secondTurn.settled()).toBe(false);

    const started = performance.now();
    await processA.done(first);
    expect(await secondTurn.promise).toBe('turn');
    // Far below the one-minute re-read: only the notification can have woken it.
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  it('re-reads a waited-on chat when a notification is lost', async () => {
    const prefix = `test:${randomUUID()}:`;
    const processA = await redisOrdering(prefix);
    // A subscriber that never connects: process B hears nothing and must re-read.
    const processB = new RedisChatOrdering(await client(), await client({ connect: false }), {
      prefix,
      recheckMs: 50,
    });
    const first = await processA.take('h');
    const second = await processB.take('h');
    const secondTurn = watch(processB.waitForTurn(second, 60_000));
    await processA.done(first);
    expect(await secondTurn.promise).toBe('turn');
  });

  it('lets the ticket behind a dead process go once, then the rest in order, across processes', async () => {
    const prefix = `test:${randomUUID()}:`;
    const [processA, processB] = [await redisOrdering(prefix), await redisOrdering(prefix)];
    await processA.take('i'); // process A dies with it
    const tickets = [await processB.take('i'), await processA.take('i'), await processB.take('i')];
    const turns = tickets.map((ticket, index) => watch((index === 1 ? processA : processB).waitForTurn(ticket, 150)));
    expect(await turns[0]!.promise).toBe('gave-up');
    await flush(processB);
    expect([turns[1]!.settled(), turns[2]!.settled()]).toEqual([false, false]);
    await processB.done(tickets[0]!);
    expect(await turns[1]!.promise).toBe('turn');
    await processA.done(tickets[1]!);
    expect(await turns[2]!.promise).toBe('turn');
  });
});

describe('chat order while Redis goes away and comes back', () => {
  const outage = redisForSuite();

  it('fails the waiters of a chat at once, in ticket order, when Redis goes away, and resumes without a restart', async () => {
    const { main, subscriber } = await outage.processClients();
    const ordering = new RedisChatOrdering(main, subscriber, { prefix: `test:${randomUUID()}:` });

    const first = await ordering.take('j'); // handled by a process that is now stuck
    const waiting = [await ordering.take('j'), await ordering.take('j')];
    const failed: number[] = [];
    const turns = waiting.map((ticket) =>
      ordering.waitForTurn(ticket, 60_000).catch((error: unknown) => {
        failed.push(ticket.number);
        return isStorageUnavailable(error) ? 'unavailable' : error;
      }),
    );
    await new Promise((resolve) => setImmediate(resolve));

    const started = performance.now();
    await outage.server.kill();
    expect(await Promise.all(turns)).toEqual(['unavailable', 'unavailable']);
    expect(failed).toEqual([2, 3]);
    // A done mark that cannot be written now is remembered, and written when Redis is back.
    expect(isStorageUnavailable(await ordering.done(first).catch((error: unknown) => error))).toBe(true);
    expect(performance.now() - started).toBeLessThan(3000);

    await outage.server.start();
    if (main.status !== 'ready') await new Promise<void>((resolve) => main.once('ready', () => resolve()));
    const after = await ordering.take('l');
    expect(after.number).toBe(1);
    expect(await ordering.waitForTurn(after, 60_000)).toBe('turn');
  });
});
