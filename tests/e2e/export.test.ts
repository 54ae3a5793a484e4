import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { type FakeProviderServer, startFakeProviderServer } from '../fakes/provider-server';
import { type FakeTelegramServer, startFakeTelegramServer } from '../fakes/telegram-server';
import { ask, botEnv, crashRecords, FIRST_PROVIDER, startPollingBot } from '../helpers/bot-harness';
import type { BotProcess } from '../helpers/bot-process';

/** /export through the built bot: the conversation as a Markdown document, Persian text intact. */
describe('/export', () => {
  let telegram: FakeTelegramServer;
  let providers: FakeProviderServer;
  let bot: BotProcess;
  let nextUser = 8500;
  const newUser = (language = 'en') => ({ id: ++nextUser, first_name: `Export ${nextUser}`, language_code: language });

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
    providers.setHandler((request) => ({ type: 'reply', text: `**echo:** ${request.messages.at(-1)?.content}` }));
  });

  /** Sends /export and resolves with the document the bot sent. */
  async function exportFor(user: { id: number; first_name: string }) {
    const since = telegram.mark();
    telegram.sendText(user, '/export');
    const call = await telegram.waitForCall('sendDocument', (candidate) => candidate.ok, { since, timeoutMs: 10_000 });
    const messageId = (call.response as { result: { message_id: number } }).result.message_id;
    return telegram.documentsIn(user.id).find((document) => document.messageId === messageId)!;
  }

  it('sends the conversation as a Markdown file', async () => {
    const user = newUser();
    await ask(telegram, user, 'What is 2 + 2?');
    await ask(telegram, user, 'And 3 + 3?');
    const document = await exportFor(user);
    expect(document.fileName).toMatch(/^conversation-\d{4}-\d{2}-\d{2}\.md$/);
    expect(document.caption).toBe('Our conversation: 4 messages.');
    const text = document.content.toString('utf8');
    expect(text).toMatch(/^# Conversation with Switchboard\n\n_Exported \d{4}-\d{2}-\d{2} \d{2}:\d{2} \(UTC\)_\n\n/);
    expect(text.slice(text.indexOf('**You:**'))).toBe(
      [
        '**You:**',
        'What is 2 + 2?',
        '**Assistant:**',
        '**echo:** What is 2 + 2?',
        '**You:**',
        'And 3 + 3?',
        '**Assistant:**',
        '**echo:** And 3 + 3?',
      ].join('\n\n') + '\n',
    );
    expect(crashRecords(bot)).toEqual([]);
  });

  it('keeps Persian and right-to-left text exactly, with Persian labels', async () => {
    const user = newUser('fa');
    // ZWNJ in «می‌خواهم», a right-to-left mark, an emoji and mixed digits.
    const question = 'سلام! می‌خواهم ‏(RTL) بدانم ۲ + 2 چند است؟ 👋';
    await ask(telegram, user, question);
    const document = await exportFor(user);
    expect(document.caption).toBe('گفت‌وگوی‌مان: ۲ پیام.');
    const text = document.content.toString('utf8');
    expect(text.startsWith('# گفت‌وگو با Switchboard\n\n_خروجی گرفته‌شده در ')).toBe(true);
    expect(text).toContain(`**تو:**\n\n${question}\n\n**دستیار:**\n\n**echo:** ${question}\n`);
    // What was sent is valid UTF-8 that reads back byte for byte.
    expect(Buffer.from(text, 'utf8').equals(document.content)).toBe(true);
  });

  it('says so when there is nothing to export', async () => {
    const user = newUser();
    expect((await ask(telegram, user, '/export')).text).toBe(
      "There's nothing to export yet: our conversation is empty.",
    );
    expect(telegram.documentsIn(user.id)).toEqual([]);
  });
});
