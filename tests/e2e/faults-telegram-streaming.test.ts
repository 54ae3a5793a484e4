import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import type { FakeProviderServer } from '../fakes/provider-server';
import { type ApiCall, type Failure, type FakeTelegramServer, telegramErrors } from '../fakes/telegram-server';
import {
  answered,
  crashRecords,
  FIRST_PROVIDER,
  SECOND_PROVIDER,
  SHORT_TIMEOUTS,
  startRedisBotWorld,
  type RedisBotWorld,
  suspiciousTexts,
} from '../helpers/bot-harness';
import type { BotProcess } from '../helpers/bot-process';
import { storedTurns } from '../helpers/stored-history';

/** auto-retry waits 3 s before retrying a 5xx, our network retry 1 s: one retry fits in this. */
const ONE_RETRY_MS = 7000;
const ANSWER = 'a streamed answer that arrives one word at a time over a short while';

const statusOf = (failure: Failure): ApiCall['status'] =>
  'drop' in failure ? 'dropped' : 'body' in failure ? failure.status : failure.error_code;

/**
 * Telegram failing while an answer streams: the live preview's sendMessageDraft (private chats)
 * and editMessageText (groups) answered with 429, 5xx or a dropped connection. The final answer
 * arrives once and whole, the stored conversation holds it once, and the bot keeps running. Last,
 * SIGTERM while Telegram is flood-limiting the answer's last edit: the answer is delivered and
 * the bot exits 0.
 */
describe('Telegram failures while streaming', () => {
  let inspector: Redis;
  let telegram: FakeTelegramServer;
  let providers: FakeProviderServer;
  let bot: BotProcess;
  let nextUserId = 7401;
  let nextGroupId = -1007400000001;

  let world: RedisBotWorld | undefined;
  beforeAll(async () => {
    world = await startRedisBotWorld([FIRST_PROVIDER, SECOND_PROVIDER], {
      ...SHORT_TIMEOUTS,
      RATE_LIMIT_PER_MINUTE: '0',
      STREAM_REPLIES: 'true',
    });
    ({ inspector, telegram, providers, bot } = world);
  });
  afterAll(async () => world?.stop());
  beforeEach(async () => {
    telegram.clearFailures();
    // 13 words, 40 ms apart: the preview is shown before the answer is complete.
    providers.setHandler(() => ({ type: 'reply', text: ANSWER, chunkDelayMs: 40 }));
    await telegram.waitForPolling({ timeoutMs: 10_000 });
  });

  const newUser = () => ({ id: nextUserId++, first_name: 'Sia', language_code: 'en' });
  const attemptsOf = (method: string, since: number, chatId: number): ApiCall['status'][] =>
    telegram.calls
      .slice(since)
      .filter((call) => call.method === method && call.params.chat_id === chatId)
      .map((call) => call.status);

  const failures: [string, Failure][] = [
    ['429 with retry_after 1', telegramErrors.tooManyRequests(1)],
    ['502 Bad Gateway', telegramErrors.badGateway()],
    ['a dropped connection', { drop: true }],
  ];

  it.each(failures)("private chat, the preview's sendMessageDraft fails with %s", async (_name, failure) => {
    const user = newUser();
    const since = telegram.mark();
    telegram.failNext('sendMessageDraft', failure);
    const update = telegram.sendText(user, 'stream to me');
    await answered(bot, update, ONE_RETRY_MS + 3000);

    expect(attemptsOf('sendMessageDraft', since, user.id)[0]).toBe(statusOf(failure));
    expect(telegram.messagesIn(user.id).map((message) => message.text)).toEqual([ANSWER]);
    expect(attemptsOf('sendMessage', since, user.id)).toEqual([200]);
    expect(await storedTurns(inspector, `u:${user.id}`)).toEqual(['user: stream to me', `assistant: ${ANSWER}`]);
  });

  it.each<[string, Failure]>([
    ...failures,
    ['a dropped connection after the edit was made (the retry is "not modified")', { drop: true, afterEffect: true }],
  ])("group, the answer's editMessageText fails with %s", async (_name, failure) => {
    const user = newUser();
    const group = { id: nextGroupId--, title: 'Stormy group' };
    const since = telegram.mark();
    telegram.failNext('editMessageText', failure);
    const update = telegram.sendText(user, '@switchboard_test_bot stream to the group', { chat: group });
    await answered(bot, update, ONE_RETRY_MS + 3000);

    const edits = attemptsOf('editMessageText', since, group.id);
    expect(edits[0]).toBe(statusOf(failure));
    expect(edits.length).toBeGreaterThanOrEqual(2);
    // One message: the preview, finished in place with the whole answer, replying to the question.
    const messages = telegram.messagesIn(group.id);
    expect(messages.map((message) => message.text)).toEqual([ANSWER]);
    expect(messages[0]?.replyToMessageId).toBe(update.message?.message_id);
    expect(await storedTurns(inspector, `g:${group.id}:u:${user.id}`)).toEqual([
      'user: stream to the group',
      `assistant: ${ANSWER}`,
    ]);
  });

  it('kept running through all of it', async () => {
    const user = newUser();
    const update = telegram.sendText(user, 'still streaming?');
    await answered(bot, update);
    expect(telegram.messagesIn(user.id).map((message) => message.text)).toEqual([ANSWER]);
    expect(crashRecords(bot)).toEqual([]);
    expect(suspiciousTexts(telegram)).toEqual([]);
  });

  it("on SIGTERM while Telegram flood-limits the answer's last edit, delivers it and exits 0", async () => {
    const user = newUser();
    const group = { id: nextGroupId--, title: 'Flooded group' };
    // One message or edit per 1.5 s in a chat: the preview goes through, the final edit gets a 429.
    telegram.enableFloodControl({ perChat: { limit: 1, windowMs: 1500 } });
    const since = telegram.mark();
    const update = telegram.sendText(user, '@switchboard_test_bot one more, slowly', { chat: group });
    await telegram.waitForCall('editMessageText', (call) => call.status === 429 && call.params.chat_id === group.id, {
      since,
      timeoutMs: 10_000,
    });

    // The bot is waiting out Telegram's retry_after with the answer in hand.
    const code = await bot.stop('SIGTERM');

    expect(code).toBe(0);
    expect(telegram.messagesIn(group.id).map((message) => message.text)).toEqual([ANSWER]);
    expect(attemptsOf('editMessageText', since, group.id)).toEqual([429, 200]);
    expect(await storedTurns(inspector, `g:${group.id}:u:${user.id}`)).toEqual([
      'user: one more, slowly',
      `assistant: ${ANSWER}`,
    ]);
    expect(telegram.updatesConfirmed()).toBeGreaterThan(update.update_id);
    expect(bot.records().some((record) => record.msg === 'stopped')).toBe(true);
    expect(crashRecords(bot)).toEqual([]);
    telegram.disableFloodControl();
  });
});
