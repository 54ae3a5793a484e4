import { randomUUID } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { StopRelay } from '../../../bot/services/stop-relay';
import { MemoryBroadcast } from '../../../storage/memory/broadcast';
import { RedisBroadcast } from '../../../storage/redis/broadcast';
import type { Broadcast } from '../../../storage/types';
import { redisForSuite } from '../../helpers/redis-suite';

const redis = redisForSuite();

/** Two processes' views of one broadcast: each with its own connections on Redis, one object in memory. */
async function pair(kind: 'memory' | 'redis'): Promise<[Broadcast, Broadcast]> {
  if (kind === 'memory') {
    const shared = new MemoryBroadcast();
    return [shared, shared];
  }
  const channel = `test:${randomUUID()}:broadcast`;
  const made: Broadcast[] = [];
  for (let index = 0; index < 2; index++) {
    const { main, subscriber } = await redis.processClients();
    made.push(new RedisBroadcast(main, subscriber, channel));
  }
  // Subscribed once each has said so: a message published now reaches both.
  await new Promise((resolve) => setTimeout(resolve, 100));
  return [made[0]!, made[1]!];
}

describe.each(['memory', 'redis'] as const)('Broadcast contract: %s', (kind) => {
  it('delivers a message to every listener, the publisher’s own included', async () => {
    const [first, second] = await pair(kind);
    const heard: string[] = [];
    const both = new Promise<void>((resolve) => {
      const hear = (who: string) => (message: string) => {
        heard.push(`${who}: ${message}`);
        if (heard.length === 2) resolve();
      };
      first.subscribe(hear('first'));
      second.subscribe(hear('second'));
    });
    await first.publish('سلام ۱۲۳');
    await both;
    expect(heard.sort()).toEqual(['first: سلام ۱۲۳', 'second: سلام ۱۲۳']);
  });
});

describe('StopRelay across processes (two relays on one Redis)', () => {
  it('stops an answer streaming in the other process, for its own user only, and says when there was none', async () => {
    const [here, there] = await pair('redis');
    const [pressed, streaming] = [new StopRelay(here, true, 2000), new StopRelay(there, true, 2000)];
    const controller = new AbortController();
    const unregister = streaming.register('42:s1', { userId: 7, controller });

    expect(await pressed.stop('42:s1', 8)).toBe(false); // someone else's answer
    expect(controller.signal.aborted).toBe(false);
    expect(await pressed.stop('42:s1', 7)).toBe(true);
    expect(controller.signal.aborted).toBe(true);
    expect(await pressed.stop('42:s1', 7)).toBe(false); // already stopped
    unregister();
  });

  it('without shared storage, serves a press here or answers at once that there is nothing to stop', async () => {
    const relay = new StopRelay(new MemoryBroadcast(), false, 60_000);
    const controller = new AbortController();
    relay.register('1:a', { userId: 1, controller });
    expect(await relay.stop('1:b', 1)).toBe(false);
    expect(await relay.stop('1:a', 1)).toBe(true);
    expect(controller.signal.aborted).toBe(true);
  });
});
