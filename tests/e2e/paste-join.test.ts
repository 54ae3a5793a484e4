import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { type FakeProviderServer, startFakeProviderServer } from '../fakes/provider-server';
import { type FakeTelegramServer, startFakeTelegramServer } from '../fakes/telegram-server';
import { answered, botEnv, crashRecords, FIRST_PROVIDER, startPollingBot } from '../helpers/bot-harness';
import type { BotProcess } from '../helpers/bot-process';

/**
 * A long paste that a Telegram app split into several messages, through the built bot: the parts
 * a user sends a moment apart are joined and answered once; a long message alone is answered as it is.
 */
describe('long pastes split by Telegram', () => {
  let telegram: FakeTelegramServer;
  let providers: FakeProviderServer;
  let bot: BotProcess;

  beforeAll(async () => {
    [telegram, providers] = await Promise.all([startFakeTelegramServer(), startFakeProviderServer()]);
    bot = await startPollingBot(
      telegram,
      botEnv(telegram, providers, [FIRST_PROVIDER], {
        STREAM_REPLIES: 'false',
        RATE_LIMIT_PER_MINUTE: '0',
        PASTE_JOIN_MS: '400',
        MAX_MESSAGE_CHARS: '20000',
      }),
    );
  });
  afterAll(async () => {
    await bot?.stop();
    await Promise.all([telegram?.stop(), providers?.stop()]);
  });
  beforeEach(() => {
    providers.reset();
    providers.setHandler((request) => ({
      type: 'reply',
      text: `got ${request.messages.at(-1)?.content.length} characters`,
    }));
  });

  /** A part as Telegram apps cut them: Persian and Latin words, under 4,096 characters. */
  const part = (label: string, words: number) =>
    Array.from({ length: words }, (_, index) => `${label}${index} واژه`).join(' ');

  it('joins the parts a user sends a moment apart and answers them once', async () => {
    const user = { id: 7501, first_name: 'Paster', language_code: 'fa' };
    const parts = [part('a', 400), part('b', 400), part('c', 40)];
    expect(parts[0]!.length).toBeGreaterThan(3000);
    expect(parts[0]!.length).toBeLessThan(4096);
    const first = telegram.sendText(user, parts[0]!);
    telegram.sendText(user, parts[1]!);
    telegram.sendText(user, parts[2]!);
    await answered(bot, first);

    const joined = parts.join('\n');
    expect(providers.requests).toHaveLength(1);
    expect(providers.requests[0]!.messages.at(-1)?.content).toBe(joined);
    const replies = telegram.messagesIn(user.id).filter((message) => message.fromBot);
    expect(replies.map((message) => message.text)).toEqual([`got ${joined.length} characters`]);
    expect(bot.records().some((record) => record.msg === 'answering a long paste as one message')).toBe(true);
  });

  it('answers a long message that has no second part as it is', async () => {
    const user = { id: 7502, first_name: 'Writer', language_code: 'en' };
    const text = part('x', 400);
    const update = telegram.sendText(user, text);
    await answered(bot, update);
    expect(providers.requests.map((request) => request.messages.at(-1)?.content)).toEqual([text]);
    expect(crashRecords(bot)).toEqual([]);
  });
});
