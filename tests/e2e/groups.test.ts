import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type FakeProviderServer, startFakeProviderServer } from '../fakes/provider-server';
import { type FakeTelegramServer, type StoredMessage, startFakeTelegramServer } from '../fakes/telegram-server';
import {
  answered,
  botEnv,
  crashRecords,
  FIRST_PROVIDER,
  requestsEndingWith,
  startPollingBot,
  turnsOf,
  suspiciousTexts,
} from '../helpers/bot-harness';
import type { BotProcess } from '../helpers/bot-process';

/**
 * Group chats, through the built bot: it answers only when mentioned or replied to (as a reply to
 * the asking message), ignores other chatter, and keeps one history per chat and user.
 */
describe('group chats', () => {
  let telegram: FakeTelegramServer;
  let providers: FakeProviderServer;
  let bot: BotProcess;
  const alice = { id: 9701, first_name: 'Alice', language_code: 'en' };
  const bob = { id: 9702, first_name: 'Bob', language_code: 'en' };
  const group = { id: -1009700000001, title: 'Tea club' };
  const otherGroup = { id: -1009700000002, title: 'Coffee club' };

  beforeAll(async () => {
    [telegram, providers] = await Promise.all([startFakeTelegramServer(), startFakeProviderServer()]);
    bot = await startPollingBot(
      telegram,
      botEnv(telegram, providers, [FIRST_PROVIDER], { RATE_LIMIT_PER_MINUTE: '0', STREAM_REPLIES: 'false' }),
    );
  });
  afterAll(async () => {
    await bot?.stop();
    await Promise.all([telegram?.stop(), providers?.stop()]);
  });

  /** Sends a group message that should be answered; resolves with the answer once it is complete. */
  async function askInGroup(
    from: typeof alice,
    text: string,
    options: { chat?: typeof group; reply_to_message?: StoredMessage } = {},
  ): Promise<StoredMessage> {
    const chat = options.chat ?? group;
    const update = telegram.sendText(from, text, { ...options, chat });
    await answered(bot, update);
    const reply = telegram
      .messagesIn(chat.id)
      .find((message) => message.replyToMessageId === update.message?.message_id);
    if (reply === undefined) throw new Error(`no reply to "${text}"`);
    return reply;
  }

  it('answers a mention, as a reply to the message that asked', async () => {
    const reply = await askInGroup(alice, '@switchboard_test_bot what goes with tea?');
    expect(reply.text).toBe('echo: what goes with tea?');
  });

  it('answers a reply to one of its messages', async () => {
    const [botMessage] = telegram.messagesIn(group.id);
    const reply = await askInGroup(alice, 'and with coffee?', { reply_to_message: botMessage! });
    expect(reply.text).toBe('echo: and with coffee?');
  });

  it('stays out of other chatter', async () => {
    const before = telegram.messagesIn(group.id).length;
    telegram.sendText(bob, 'hey @someone_else look', { chat: group });
    telegram.sendText(alice, 'no need for the bot here', { chat: group });
    telegram.sendSticker(bob, { chat: group });
    // Handled in order: once this mention is answered, the chatter before it was handled too.
    await askInGroup(bob, '@switchboard_test_bot are you listening?');

    expect(telegram.messagesIn(group.id)).toHaveLength(before + 1);
    expect(requestsEndingWith(providers, 'no need for the bot here')).toEqual([]);
    expect(requestsEndingWith(providers, 'hey @someone_else look')).toEqual([]);
  });

  it('keeps one history per chat and user', async () => {
    await askInGroup(alice, '@switchboard_test_bot and biscuits?');
    expect(turnsOf(requestsEndingWith(providers, 'and biscuits?')[0])).toEqual([
      'user: what goes with tea?',
      'assistant: echo: what goes with tea?',
      'user: and with coffee?',
      'assistant: echo: and with coffee?',
      'user: and biscuits?',
    ]);
    // Bob's turns in the same group, and Alice's in another group, are separate conversations.
    await askInGroup(bob, '@switchboard_test_bot me again');
    expect(turnsOf(requestsEndingWith(providers, 'me again')[0])).toEqual([
      'user: are you listening?',
      'assistant: echo: are you listening?',
      'user: me again',
    ]);
    await askInGroup(alice, '@switchboard_test_bot hello coffee club', { chat: otherGroup });
    expect(turnsOf(requestsEndingWith(providers, 'hello coffee club')[0])).toEqual(['user: hello coffee club']);
    expect(crashRecords(bot)).toEqual([]);
    expect(suspiciousTexts(telegram)).toEqual([]);
  });
});
