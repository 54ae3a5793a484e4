import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { MemoryUpdateQueue } from '../../../storage/memory/update-queue';
import { connectRedis, createRedisClient } from '../../../storage/redis/client';
import { RedisUpdateQueue } from '../../../storage/redis/update-queue';
import type { UpdateQueue } from '../../../storage/types';
import { startTestRedis, type TestRedis } from '../../helpers/redis-server';

let redisServer: TestRedis;
let client: Redis;
let blocking: Redis;
let subscriber: Redis;
beforeAll(async () => {
  redisServer = await startTestRedis();
  client = createRedisClient(redisServer.url);
  blocking = createRedisClient(redisServer.url);
  subscriber = createRedisClient(redisServer.url);
  await Promise.all([connectRedis(client), connectRedis(blocking), connectRedis(subscriber)]);
});
afterAll(async () => {
  for (const connection of [client, blocking, subscriber]) connection.disconnect();
  await redisServer.stop();
});

/** An idle time the tests wait out for real: Redis measures it on its own clock. */
const IDLE_MS = 30;
const pastIdle = () => new Promise((resolve) => setTimeout(resolve, IDLE_MS * 3));
const payload = (updateId: number) => JSON.stringify({ update_id: updateId, message: { text: `سلام ${updateId}` } });

const queues: [string, () => UpdateQueue][] = [
  ['memory', () => new MemoryUpdateQueue()],
  ['redis', () => new RedisUpdateQueue({ redis: client, blocking, subscriber, prefix: `test:${randomUUID()}:` })],
];

describe.each(queues)('UpdateQueue contract: %s', (_name, create) => {
  it('queues an update once, however often it is appended, and hands entries out in order', async () => {
    const queue = create();
    expect(await queue.append(1, payload(1))).toBe(true);
    expect(await queue.append(2, payload(2))).toBe(true);
    expect(await queue.append(1, payload(1))).toBe(false);
    expect(await queue.backlog()).toBe(2);
    const taken = await queue.take('worker-a', 10, 0);
    expect(taken.map((entry) => [entry.updateId, entry.deliveries])).toEqual([
      [1, 1],
      [2, 1],
    ]);
    expect(JSON.parse(taken[0]!.payload).message.text).toBe('سلام 1');
    // Handed out once: another consumer gets nothing new.
    expect(await queue.take('worker-b', 10, 0)).toEqual([]);
  });

  it('keeps an entry until it is acknowledged, then lets it go', async () => {
    const queue = create();
    await queue.append(10, payload(10));
    await queue.append(11, payload(11));
    const [first, second] = await queue.take('worker-a', 10, 0);
    await queue.ack([first!.entryId]);
    expect(await queue.backlog()).toBe(1);
    await queue.ack([second!.entryId]);
    expect(await queue.backlog()).toBe(0);
  });

  it('hands the entries of a consumer gone quiet to another, counting deliveries', async () => {
    const queue = create();
    await queue.append(20, payload(20));
    const [taken] = await queue.take('dies', 10, 0);
    expect(await queue.reclaim('survivor', 60_000, 10)).toEqual([]);
    await pastIdle();
    const reclaimed = await queue.reclaim('survivor', IDLE_MS, 10);
    expect(reclaimed.map((entry) => [entry.entryId, entry.updateId, entry.deliveries])).toEqual([
      [taken!.entryId, 20, 2],
    ]);
    // Now the survivor's: not reclaimed again until it, too, goes quiet.
    expect(await queue.reclaim('third', 60_000, 10)).toEqual([]);
  });

  it('moves an entry that fails every time to the dead letters, out of the queue', async () => {
    const queue = create();
    await queue.append(30, payload(30));
    const [entry] = await queue.take('worker-a', 1, 0);
    await queue.deadLetter(entry!, 'handling threw 5 times: TypeError');
    expect(await queue.backlog()).toBe(0);
    expect(await queue.deadLetters(10)).toEqual([{ updateId: 30, reason: 'handling threw 5 times: TypeError' }]);
    await pastIdle();
    expect(await queue.reclaim('worker-b', IDLE_MS, 10)).toEqual([]);
  });

  it('waits for the next update when asked to block, and returns it as soon as it is appended', async () => {
    const queue = create();
    const waiting = queue.take('worker-a', 10, 1000);
    await queue.append(40, payload(40));
    expect((await waiting).map((entry) => entry.updateId)).toEqual([40]);
    // Nothing comes: the wait ends empty after the block time.
    expect(await queue.take('worker-a', 10, 50)).toEqual([]);
  });

  it('takes each chat’s tickets as updates are appended, once per update, and keeps them across reclaims', async () => {
    const queue = create();
    await queue.append(50, payload(50), '7');
    await queue.append(51, payload(51), '8');
    await queue.append(52, payload(52), '7');
    await queue.append(50, payload(50), '7'); // fetched again: no second ticket
    await queue.append(53, payload(53));
    const taken = await queue.take('worker-a', 10, 0);
    expect(
      taken.map((entry) => [entry.updateId, entry.ticket?.chatId, entry.ticket?.number, entry.firstInLine]),
    ).toEqual([
      [50, '7', 1, true],
      [51, '8', 1, true],
      [52, '7', 2, false], // the first of chat 7 was not done yet
      [53, undefined, undefined, undefined],
    ]);
    // The tickets belong to the queue's lines: the second of chat 7 waits for the first.
    const [first, , second] = taken;
    expect(await queue.ordering.waitForTurn(first!.ticket!, 60_000)).toBe('turn');
    const secondTurn = queue.ordering.waitForTurn(second!.ticket!, 60_000);
    await queue.ordering.done(first!.ticket!);
    expect(await secondTurn).toBe('turn');
    await pastIdle();
    const reclaimed = await queue.reclaim('worker-b', IDLE_MS, 10);
    expect(reclaimed.find((entry) => entry.updateId === 52)?.ticket).toEqual({ chatId: '7', number: 2 });
    // Appended once both earlier tickets of chat 7 are done: first in line.
    await queue.ordering.done(second!.ticket!);
    await queue.append(54, payload(54), '7');
    const [third] = await queue.take('worker-a', 10, 0);
    expect([third?.updateId, third?.firstInLine]).toEqual([54, true]);
  });

  it('keeps the entries of a consumer that touches them from being reclaimed, without counting a delivery', async () => {
    const queue = create();
    await queue.append(60, payload(60));
    await queue.append(61, payload(61));
    const [slowEntry] = await queue.take('slow-but-alive', 1, 0);
    await queue.take('quiet', 1, 0);
    await pastIdle();
    expect(await queue.touch('slow-but-alive', [slowEntry!.entryId])).toEqual([]);
    const reclaimed = await queue.reclaim('survivor', IDLE_MS, 10);
    expect(reclaimed.map((entry) => [entry.updateId, entry.deliveries])).toEqual([[61, 2]]);
    await pastIdle();
    expect((await queue.reclaim('survivor-2', IDLE_MS, 10)).map((entry) => [entry.updateId, entry.deliveries])).toEqual(
      [
        [60, 2],
        [61, 3],
      ],
    );
  });

  it('completes an entry in one step: it leaves the queue, and its ticket lets the next one go', async () => {
    const queue = create();
    await queue.append(70, payload(70), '9');
    await queue.append(71, payload(71), '9');
    const [first, second] = await queue.take('worker-a', 10, 0);
    const next = queue.ordering.waitForTurn(second!.ticket!, 60_000);
    await queue.complete(first!, true);
    expect(await next).toBe('turn');
    expect(await queue.backlog()).toBe(1);
    // Without marking the turn (it was passed on already), only the acknowledgement.
    await queue.complete(second!, false);
    expect(await queue.backlog()).toBe(0);
  });

  it('hands a consumer again, on its next touch, what it was given but does not hold (a lost reply)', async () => {
    const queue = create();
    await queue.append(80, payload(80));
    await queue.append(81, payload(81));
    const [kept] = await queue.take('worker-a', 2, 0); // the second one's delivery is "lost"
    const lost = await queue.touch('worker-a', [kept!.entryId]);
    expect(lost.map((entry) => [entry.updateId, JSON.parse(entry.payload).message.text])).toEqual([[81, 'سلام 81']]);
    expect(lost[0]!.deliveries).toBeGreaterThanOrEqual(2);
    // Held now: the next touch has nothing lost.
    expect(await queue.touch('worker-a', [kept!.entryId, lost[0]!.entryId])).toEqual([]);
  });
});
