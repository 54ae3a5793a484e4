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
describe('long polling without Redis, with updates in flight', () => {
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
  function start(): void {
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
    });
  }

  const user = (index: number) => ({ id: 5000 + index, first_name: `User ${index}` });

  it('takes in the chats behind a held update, beyond 100, and confirms them at once', async () => {
    start();
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
