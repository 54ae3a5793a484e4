import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { Update } from 'grammy/types';
import { type FakeProviderServer, startFakeProviderServer } from '../fakes/provider-server';
import { type FakeTelegramServer, type StoredMessage, startFakeTelegramServer } from '../fakes/telegram-server';
import {
  answered,
  ask,
  botEnv,
  crashRecords,
  descriptorOf,
  FIRST_PROVIDER,
  requestsEndingWith,
  SECOND_PROVIDER,
  startPollingBot,
  turnsOf,
  until,
} from '../helpers/bot-harness';
import type { BotProcess } from '../helpers/bot-process';

/**
 * The buttons under an answer, through the built bot: Regenerate, Continue (after an answer cut at
 * the length limit) and Stop (while an answer streams); old, foreign, unknown and repeated presses.
 */
type Keyboard = { inline_keyboard: { text: string; callback_data: string }[][] };
const buttonsOf = (message: StoredMessage) =>
  ((message.replyMarkup as Keyboard | undefined)?.inline_keyboard ?? []).flat();
const dataOf = (message: StoredMessage, label: string) => {
  const found = buttonsOf(message).find((candidate) => candidate.text === label);
  if (found === undefined) throw new Error(`no button ${label} in ${JSON.stringify(buttonsOf(message))}`);
  return found.callback_data;
};
const hasStop = (message: StoredMessage) => buttonsOf(message).some((button) => button.text === '⏹ Stop');

/** What the first provider says when an answer reached its output limit (its wire format's word). */
const LENGTH_FINISH = descriptorOf(FIRST_PROVIDER).wireFormat === 'openai-chat' ? 'length' : 'MAX_TOKENS';

describe('buttons under an answer', () => {
  let telegram: FakeTelegramServer;
  let providers: FakeProviderServer;
  let bot: BotProcess;
  let nextUser = 8300;
  const newUser = () => ({ id: ++nextUser, first_name: `Buttons ${nextUser}`, language_code: 'en' });

  beforeAll(async () => {
    [telegram, providers] = await Promise.all([startFakeTelegramServer(), startFakeProviderServer()]);
    bot = await startPollingBot(
      telegram,
      botEnv(telegram, providers, [FIRST_PROVIDER, SECOND_PROVIDER], {
        STREAM_REPLIES: 'true',
        RATE_LIMIT_PER_MINUTE: '0',
        USER_DAILY_LIMIT: '3',
        // A stalled stream stays open until Stop ends it.
        STREAM_IDLE_TIMEOUT_MS: '30000',
        REQUEST_DEADLINE_MS: '60000',
      }),
    );
  });
  afterAll(async () => {
    await bot?.stop();
    await Promise.all([telegram?.stop(), providers?.stop()]);
  });
  beforeEach(() => {
    providers.reset();
    providers.setHandler((request) => ({ type: 'reply', text: `answer #${request.index + 1}` }));
  });

  function pressAsync(from: { id: number }, data: string, message: StoredMessage): Promise<string | undefined> {
    const since = telegram.mark();
    const update = telegram.sendCallbackQuery(from as never, data, { message });
    return answerOf(update, since);
  }

  async function answerOf(update: Update, since: number): Promise<string | undefined> {
    const call = await telegram.waitForCall(
      'answerCallbackQuery',
      (candidate) => candidate.params.callback_query_id === update.callback_query?.id,
      { since, timeoutMs: 10_000 },
    );
    return call.params.text === undefined ? undefined : String(call.params.text);
  }

  /** Presses a button and resolves with the bot's next message in the chat (after the press is answered). */
  async function pressForAnswer(
    from: { id: number },
    data: string,
    message: StoredMessage,
  ): Promise<{ notice: string | undefined; reply: StoredMessage }> {
    const since = telegram.mark();
    const update = telegram.sendCallbackQuery(from as never, data, { message });
    const notice = await answerOf(update, since);
    await answered(bot, update);
    const reply = await telegram.waitForMessage(message.chat.id, (candidate) => candidate.fromBot, { since });
    return { notice, reply };
  }

  it('regenerates: a new answer to the same question, from another provider, in place of the old one', async () => {
    const user = newUser();
    const first = await ask(telegram, user, 'name a colour');
    expect(first.text).toBe('answer #1');
    expect(buttonsOf(first).map((button) => button.text)).toEqual(['🔄 Regenerate']);

    const { notice, reply } = await pressForAnswer(user, dataOf(first, '🔄 Regenerate'), first);
    expect(notice).toBe('On it…');
    expect(reply.text).toBe('answer #2');
    const regenerated = requestsEndingWith(providers, 'name a colour');
    expect(regenerated.map((request) => request.dialect)).toEqual([FIRST_PROVIDER, SECOND_PROVIDER]);
    // The same question, without the answer it replaces.
    expect(turnsOf(regenerated[1])).toEqual(['user: name a colour']);

    await ask(telegram, user, 'and another?');
    expect(turnsOf(requestsEndingWith(providers, 'and another?')[0])).toEqual([
      'user: name a colour',
      'assistant: answer #2',
      'user: and another?',
    ]);
    // The first answer's button is old now: a notice, no provider request.
    const before = providers.requests.length;
    expect(await pressAsync(user, dataOf(first, '🔄 Regenerate'), first)).toBe(
      'That answer is no longer the latest one, so this button does nothing.',
    );
    expect(providers.requests).toHaveLength(before);
    expect(crashRecords(bot)).toEqual([]);
  });

  it('answers a button pressed twice quickly once, and charges it once', async () => {
    const user = newUser();
    const first = await ask(telegram, user, 'twice?');
    const data = dataOf(first, '🔄 Regenerate');
    const since = telegram.mark();
    const presses = [
      telegram.sendCallbackQuery(user, data, { message: first }),
      telegram.sendCallbackQuery(user, data, { message: first }),
    ];
    const notices = await Promise.all(presses.map((update) => answerOf(update, since)));
    expect(notices.sort()).toEqual(['On it…', 'That answer is no longer the latest one, so this button does nothing.']);
    await until(() => requestsEndingWith(providers, 'twice?').length === 2, 'the regenerated answer');
    await telegram.waitForMessage(user.id, (message) => message.text === 'answer #2', { since });
    expect(requestsEndingWith(providers, 'twice?')).toHaveLength(2);
    expect((await ask(telegram, user, '/usage')).text).toContain('Today: 2 requests of 3 — 1 left.');
  });

  it('counts a press against the daily limit, and refuses it past the limit without asking a provider', async () => {
    const user = newUser();
    let message = await ask(telegram, user, 'limits');
    for (const expected of ['answer #2', 'answer #3']) {
      const { reply } = await pressForAnswer(user, dataOf(message, '🔄 Regenerate'), message);
      expect(reply.text).toBe(expected);
      message = reply;
    }
    const before = providers.requests.length;
    const since = telegram.mark();
    expect(await pressAsync(user, dataOf(message, '🔄 Regenerate'), message)).toBe(
      "You've reached your limit for now: see /usage.",
    );
    await telegram.waitForMessage(user.id, (candidate) => candidate.text.includes("today's limit"), { since });
    expect(providers.requests).toHaveLength(before);
  });

  it('offers Continue after an answer cut at the length limit, and appends what follows to it', async () => {
    const user = newUser();
    providers.setHandler((request) =>
      request.index === 0
        ? { type: 'reply', text: 'The first half of a long', finishReason: LENGTH_FINISH }
        : { type: 'reply', text: ' story, and its end.' },
    );
    const cut = await ask(telegram, user, 'tell me a long story');
    expect(buttonsOf(cut).map((button) => button.text)).toEqual(['🔄 Regenerate', '▶️ Continue']);

    const { notice, reply } = await pressForAnswer(user, dataOf(cut, '▶️ Continue'), cut);
    expect(notice).toBe('On it…');
    expect(reply.text).toBe('story, and its end.');
    expect(buttonsOf(reply).map((button) => button.text)).toEqual(['🔄 Regenerate']);
    const continued = providers.requests[1]!;
    expect(turnsOf(continued).slice(0, 2)).toEqual([
      'user: tell me a long story',
      'assistant: The first half of a long',
    ]);
    expect(continued.messages.at(-1)?.content).toMatch(/^Continue your last answer/);

    await ask(telegram, user, 'thanks');
    expect(turnsOf(requestsEndingWith(providers, 'thanks')[0])).toEqual([
      'user: tell me a long story',
      'assistant: The first half of a long story, and its end.',
      'user: thanks',
    ]);
  });

  it('stops a streaming answer at once: the request is aborted, what arrived is kept and stored as cut off', async () => {
    const user = newUser();
    providers.setHandler((request) =>
      request.index === 0
        ? { type: 'stall', text: 'alpha beta gamma delta', afterChunks: 2 }
        : { type: 'reply', text: 'fine' },
    );
    const since = telegram.mark();
    const question = telegram.sendText(user, 'write forever');
    // In a private chat the preview is a draft: Stop comes as a message of its own.
    const stop = await telegram.waitForMessage(user.id, hasStop, { since, timeoutMs: 10_000 });
    expect(stop.text).toBe('✍️ Writing… press Stop to end the answer here.');

    const stranger = newUser();
    expect(await pressAsync(stranger, dataOf(stop, '⏹ Stop'), stop)).toBe('This button is for the person who asked.');
    expect(await pressAsync(user, dataOf(stop, '⏹ Stop'), stop)).toBe('Stopped.');
    await answered(bot, question, 5000);
    await until(() => providers.abandoned.includes(0), 'the provider request to be aborted', 2000);
    expect(providers.abandoned).toEqual([0]);

    const messages = telegram.messagesIn(user.id);
    expect(messages.map((message) => message.text)).toEqual(['alpha beta\n\n⏹ (stopped)']);
    expect(buttonsOf(messages[0]!).map((button) => button.text)).toEqual(['🔄 Regenerate']);
    // Pressed again, or after the answer ended: nothing to stop.
    expect(await pressAsync(user, dataOf(stop, '⏹ Stop'), stop)).toBe('This answer has already finished.');

    await ask(telegram, user, 'and now?');
    expect(turnsOf(requestsEndingWith(providers, 'and now?')[0])).toEqual([
      'user: write forever',
      'assistant: alpha beta\n\n[cut off: the user stopped this answer here]',
      'user: and now?',
    ]);
    expect(crashRecords(bot)).toEqual([]);
  });

  it('in a group, puts Stop under the preview, for the asker only', async () => {
    const asker = newUser();
    const other = newUser();
    const group = { id: -1008300000001, title: 'Stop group' };
    providers.setHandler(() => ({ type: 'stall', text: 'one two three four', afterChunks: 3 }));
    const since = telegram.mark();
    const question = telegram.sendText(asker, '@switchboard_test_bot go on and on', { chat: group });
    const preview = await telegram.waitForMessage(group.id, hasStop, { since, timeoutMs: 10_000 });
    expect(await pressAsync(other, dataOf(preview, '⏹ Stop'), preview)).toBe(
      'This button is for the person who asked.',
    );
    expect(await pressAsync(asker, dataOf(preview, '⏹ Stop'), preview)).toBe('Stopped.');
    await answered(bot, question, 5000);
    const [final, ...others] = telegram.messagesIn(group.id);
    expect(others).toEqual([]);
    expect(final?.message_id).toBe(preview.message_id);
    expect(final?.text).toBe('one two three\n\n⏹ (stopped)');
    expect(buttonsOf(final!).map((button) => button.text)).toEqual(['🔄 Regenerate']);
    await until(() => providers.abandoned.includes(0), 'the provider request to be aborted', 2000);
    expect(providers.abandoned).toEqual([0]);
  });

  it('labels the buttons and notices in Persian for a Persian-speaking user', async () => {
    const user = { ...newUser(), language_code: 'fa' };
    providers.setHandler(() => ({ type: 'reply', text: 'نیمهٔ اول', finishReason: LENGTH_FINISH }));
    const cut = await ask(telegram, user, 'یک داستان بگو');
    expect(buttonsOf(cut).map((button) => button.text)).toEqual(['🔄 پاسخ دوباره', '▶️ ادامه']);
    expect(await pressAsync(newUser(), dataOf(cut, '▶️ ادامه'), cut)).toBe('This button is for the person who asked.');
    providers.setHandler(() => ({ type: 'reply', text: 'و پایانش.' }));
    const { notice, reply } = await pressForAnswer(user, dataOf(cut, '▶️ ادامه'), cut);
    expect(notice).toBe('در حال انجام…');
    expect(reply.text).toBe('و پایانش.');
    expect(await pressAsync(user, dataOf(cut, '▶️ ادامه'), cut)).toBe(
      'این پاسخ دیگر آخرین پاسخ نیست، پس این دکمه کاری نمی‌کند.',
    );
  });

  it('answers a press it cannot read with a short notice', async () => {
    const user = newUser();
    const message = await ask(telegram, user, 'hello');
    expect(await pressAsync(user, 'ans:x:1:abc', message)).toBe('That button no longer works.');
    expect(await pressAsync(user, `ans:r:${user.id}:not-a-tag`, message)).toBe(
      'That answer is no longer the latest one, so this button does nothing.',
    );
    expect(crashRecords(bot)).toEqual([]);
  });
});
