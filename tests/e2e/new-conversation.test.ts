import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { type FakeProviderServer, startFakeProviderServer } from '../fakes/provider-server';
import { type FakeTelegramServer, type StoredMessage, startFakeTelegramServer } from '../fakes/telegram-server';
import { ask, botEnv, crashRecords, FIRST_PROVIDER, startPollingBot } from '../helpers/bot-harness';
import type { BotProcess } from '../helpers/bot-process';

/**
 * `/new` through the built bot: a short conversation is forgotten at once; a long one asks first,
 * with buttons only the asker can use, each press answered once, old or foreign presses refused.
 */
describe('/new', () => {
  let telegram: FakeTelegramServer;
  let providers: FakeProviderServer;
  let bot: BotProcess;
  let nextUser = 7300;
  const newUser = (language = 'en') => ({ id: ++nextUser, first_name: `New ${nextUser}`, language_code: language });

  beforeAll(async () => {
    [telegram, providers] = await Promise.all([startFakeTelegramServer(), startFakeProviderServer()]);
    bot = await startPollingBot(
      telegram,
      botEnv(telegram, providers, [FIRST_PROVIDER], { STREAM_REPLIES: 'false', RATE_LIMIT_PER_MINUTE: '0' }),
    );
  });
  afterAll(async () => {
    await bot?.stop();
    await Promise.all([telegram?.stop(), providers?.stop()]);
  });
  beforeEach(() => {
    providers.reset();
    providers.setHandler((request) => ({ type: 'reply', text: `echo: ${request.messages.at(-1)?.content}` }));
  });

  /** The conversation the provider was sent with the user's last question (roles and texts, no system prompt). */
  const lastConversation = () =>
    (providers.requests.at(-1)?.messages ?? []).filter((message) => message.role !== 'system').map((m) => m.content);

  /** Presses a button and returns the text the bot answered the press with (undefined: a silent answer). */
  async function press(from: { id: number }, data: string, message: StoredMessage): Promise<string | undefined> {
    const since = telegram.mark();
    const update = telegram.sendCallbackQuery(from as never, data, { message });
    const call = await telegram.waitForCall(
      'answerCallbackQuery',
      (candidate) => candidate.params.callback_query_id === update.callback_query?.id,
      { since, timeoutMs: 5000 },
    );
    return call.params.text === undefined ? undefined : String(call.params.text);
  }

  it('forgets a short conversation at once', async () => {
    const user = newUser();
    await ask(telegram, user, 'first');
    expect((await ask(telegram, user, '/new')).text).toBe(
      'New conversation started — I forgot the earlier one. What shall we talk about?',
    );
    await ask(telegram, user, 'after');
    expect(lastConversation()).toEqual(['after']);
  });

  it('asks first when the conversation is long; "yes" forgets it, once, and only for the asker', async () => {
    const user = newUser();
    for (const text of ['one', 'two', 'three']) await ask(telegram, user, text);
    const question = await ask(telegram, user, '/new');
    expect(question.text).toBe('Our conversation has 6 messages. Start a new one? I will forget this one.');
    const buttons = (question.replyMarkup as { inline_keyboard: { text: string; callback_data: string }[][] })
      .inline_keyboard[0]!;
    expect(buttons.map((button) => button.text)).toEqual(['Yes, start over', 'No, keep it']);

    // Someone else's press (forwarded chats, groups) changes nothing.
    expect(await press(newUser(), buttons[0]!.callback_data, question)).toBe(
      'This button is for the person who asked.',
    );
    await ask(telegram, user, 'still here?');
    expect(lastConversation()).toContain('one');

    expect(await press(user, buttons[0]!.callback_data, question)).toBeUndefined();
    expect(telegram.messagesIn(user.id).find((message) => message.message_id === question.message_id)?.text).toBe(
      'New conversation started — I forgot the earlier one. What shall we talk about?',
    );
    // A second press of the same button (or the other one) is answered and changes nothing.
    expect(await press(user, buttons[1]!.callback_data, question)).toBe('Already done.');
    await ask(telegram, user, 'fresh start');
    expect(lastConversation()).toEqual(['fresh start']);
  });

  it('"no" keeps the conversation, in Persian too', async () => {
    const user = newUser('fa');
    for (const text of ['یک', 'دو', 'سه']) await ask(telegram, user, text);
    const question = await ask(telegram, user, '/new');
    expect(question.text).toBe('گفت‌وگوی‌مان ۶ پیام دارد. گفت‌وگوی تازه شروع کنیم؟ این یکی را فراموش می‌کنم.');
    const noButton = (question.replyMarkup as { inline_keyboard: { callback_data: string }[][] })
      .inline_keyboard[0]![1]!;
    expect(await press(user, noButton.callback_data, question)).toBeUndefined();
    expect(telegram.messagesIn(user.id).find((message) => message.message_id === question.message_id)?.text).toBe(
      'گفت‌وگوی‌مان را نگه داشتم. ادامه بده!',
    );
    await ask(telegram, user, 'چهار');
    expect(lastConversation()).toEqual(['یک', 'echo: یک', 'دو', 'echo: دو', 'سه', 'echo: سه', 'چهار']);
  });

  it('answers a press of a button it does not know with a short notice', async () => {
    const user = newUser();
    const message = await ask(telegram, user, 'hello');
    expect(await press(user, 'something-old:42', message)).toBe('That button no longer works.');
    expect(crashRecords(bot)).toEqual([]);
  });
});
