import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Bot } from 'grammy';
import type { BotContext } from '../../bot/context';
import { createLogger } from '../../bot/logger';
import { type PollingHandle, startPolling } from '../../bot/intake/polling';
import { type FakeTelegramServer, startFakeTelegramServer } from '../fakes/telegram-server';
import { until } from '../helpers/bot-harness';

/**
 * The long-polling supplier against the fake Bot API, with handlers the test holds open: what it
 * fetches, how often, and what it confirms while updates are in flight.
 */
describe('long polling with updates in flight', () => {
  let telegram: FakeTelegramServer;
  let polling: PollingHandle | undefined;
  const releases = new Map<number, () => void>();
  const handled: number[] = [];

  beforeAll(async () => {
    telegram = await startFakeTelegramServer();
  });
  afterEach(async () => {
    for (const release of releases.values()) release();
    await polling?.stop(2000);
    polling = undefined;
    releases.clear();
    handled.length = 0;
    telegram.reset();
  });
  afterAll(() => telegram.stop());

  /** A bot whose every text waits until the test releases it (by the sender's id). */
  function start(busyPollMs: number, confirmOnReceipt = false): void {
    const bot = new Bot<BotContext>(telegram.token, {
      client: { apiRoot: telegram.apiRoot },
      botInfo: telegram.botInfo,
    });
    bot.on('message:text', async (ctx) => {
      await new Promise<void>((resolve) => releases.set(ctx.from.id, resolve));
      handled.push(ctx.update.update_id);
    });
    polling = startPolling(bot, {
      allowedUpdates: ['message'],
      logger: createLogger({ level: 'silent', secrets: [] }),
      busyPollMs,
      confirmOnReceipt,
    });
  }

  const user = (index: number) => ({ id: 5000 + index, first_name: `User ${index}` });
  const getUpdatesSince = (mark: number) => telegram.calls.slice(mark).filter((call) => call.method === 'getUpdates');

  it('notices a new message within the busy-poll pause while others are in flight', async () => {
    start(10);
    await telegram.waitForPolling();
    telegram.sendText(user(0), 'first');
    await until(() => releases.has(user(0).id), 'the first update to be handled');
    const sentAt = Date.now();
    telegram.sendText(user(1), 'second');
    await until(() => releases.has(user(1).id), 'the second update to be handled', 2000);
    expect(Date.now() - sentAt).toBeLessThan(500);
    // Nothing handled yet: nothing confirmed past the first update.
    expect(telegram.updatesConfirmed()).toBeLessThanOrEqual(telegram.pendingUpdates()[0]!.update_id);
  });

  it('with a full answer of updates in flight, waits for the lowest to finish instead of polling again', async () => {
    start(5);
    await telegram.waitForPolling();
    const updates = Array.from({ length: 150 }, (_, index) => telegram.sendText(user(index), `message ${index}`));
    await until(() => releases.size === 100, 'the first 100 updates to be in flight');
    // Releasing a later update does not move the offset: still no reason to poll.
    releases.get(user(50).id)!();
    await until(() => handled.length === 1, 'update 50 to finish');
    const mark = telegram.mark();
    await new Promise((resolve) => setTimeout(resolve, 200));
    // Every poll would return the same 100 updates: at 5 ms apart that would be some 40 polls.
    expect(getUpdatesSince(mark).length).toBeLessThanOrEqual(1);
    expect(releases.size).toBe(100);
    expect(telegram.updatesConfirmed()).toBeLessThanOrEqual(updates[0]!.update_id);

    // The lowest finishes: the offset moves past it (and only it), and the next update comes in.
    releases.get(user(0).id)!();
    await until(() => releases.has(user(100).id), 'update 100 to be fetched', 2000);
    expect(telegram.updatesConfirmed()).toBe(updates[1]!.update_id);

    for (let index = 0; index < 150; index++) {
      await until(() => releases.has(user(index).id), `update ${index} to be fetched`, 2000);
      releases.get(user(index).id)!();
    }
    await until(() => handled.length === 150, 'every update to be handled', 5000);
    await until(() => telegram.updatesConfirmed() === updates[149]!.update_id + 1, 'every update confirmed', 2000);
    expect(new Set(handled).size).toBe(150);
  });

  it('confirming on receipt (no Redis), takes in the chats behind a held update, beyond 100, and confirms them at once', async () => {
    start(5, true);
    await telegram.waitForPolling();
    const slow = telegram.sendText(user(0), 'a long answer');
    await until(() => releases.has(user(0).id), 'the slow update to be in flight');
    // With the offset held at the slow update, Telegram would return at most 100 updates from it.
    const others = Array.from({ length: 150 }, (_, index) => telegram.sendText(user(index + 1), `message ${index}`));
    await until(() => releases.size === 151, 'every update to be taken in while the first is held', 5000);
    await until(
      () => telegram.updatesConfirmed() > others[149]!.update_id,
      'every update to be confirmed while the first is held',
      5000,
    );
    for (let index = 1; index <= 150; index++) releases.get(user(index).id)!();
    await until(() => handled.length === 150, 'the other chats to be handled while the first is held', 5000);
    expect(handled).not.toContain(slow.update_id);
    releases.get(user(0).id)!();
    await until(() => handled.length === 151, 'the slow update to be handled', 2000);
  });
});
