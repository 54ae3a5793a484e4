import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type FakeProviderServer, startFakeProviderServer } from '../fakes/provider-server';
import { type FakeTelegramServer, startFakeTelegramServer } from '../fakes/telegram-server';
import {
  ask,
  botEnv,
  crashRecords,
  FIRST_PROVIDER,
  requestsEndingWith,
  startPollingBot,
  suspiciousTexts,
} from '../helpers/bot-harness';
import type { BotProcess } from '../helpers/bot-process';

const PERSIAN_SCRIPT = /[\u0600-\u06FF]/;
const COMMANDS = ['start', 'help', 'reset', 'new', 'usage', 'settings', 'export', 'translate', 'stats'];

/**
 * The command menu, the interface language and who may use the bot, through the built bot:
 * setMyCommands in English (default) and Persian, Persian texts for `language_code` fa, and the
 * ALLOWED_USER_IDS refusal (admins always allowed).
 */
describe('commands, language and access', () => {
  let telegram: FakeTelegramServer;
  let providers: FakeProviderServer;
  let bot: BotProcess;
  const alice = { id: 9801, first_name: 'Alice', language_code: 'en-GB' };
  const parisa = { id: 9802, first_name: 'Parisa', language_code: 'fa' };
  const admin = { id: 9803, first_name: 'Root', language_code: 'en' };
  const stranger = { id: 9804, first_name: 'Mallory', language_code: 'en' };
  const persianStranger = { id: 9805, first_name: 'Kian', language_code: 'fa' };

  beforeAll(async () => {
    [telegram, providers] = await Promise.all([startFakeTelegramServer(), startFakeProviderServer()]);
    bot = await startPollingBot(
      telegram,
      botEnv(telegram, providers, [FIRST_PROVIDER], {
        ALLOWED_USER_IDS: `${alice.id},${parisa.id}`,
        ADMIN_IDS: String(admin.id),
        STREAM_REPLIES: 'false',
      }),
    );
  });
  afterAll(async () => {
    await bot?.stop();
    await Promise.all([telegram?.stop(), providers?.stop()]);
  });

  it('registers the command menu for everyone (English) and for Persian speakers', () => {
    const english = telegram.commands();
    const persian = telegram.commands({ language_code: 'fa' });
    expect(english?.map((command) => command.command)).toEqual(COMMANDS);
    expect(persian?.map((command) => command.command)).toEqual(COMMANDS);
    for (const command of english ?? []) expect(command.description).not.toMatch(PERSIAN_SCRIPT);
    for (const command of persian ?? []) expect(command.description).toMatch(PERSIAN_SCRIPT);
  });

  it('greets in English, and in Persian for a user whose language is fa', async () => {
    expect((await ask(telegram, alice, '/start')).text).toMatch(/^Hi Alice! I'm an AI assistant\./);
    const persianStart = await ask(telegram, parisa, '/start');
    expect(persianStart.text).toMatch(/^سلام Parisa! من یک دستیار هوش مصنوعی هستم/);
    expect((await ask(telegram, parisa, '/help')).text).toMatch(/^هر متنی بفرستی جواب می‌دهم/);
  });

  it('speaks Persian in every reply to a Persian speaker, with Persian digits', async () => {
    expect((await ask(telegram, parisa, '/reset')).text).toBe('انجام شد — گفت‌وگوی‌مان را فراموش کردم. از چه حرف بزنیم؟');
    expect((await ask(telegram, parisa, '', { send: () => telegram.sendSticker(parisa) })).text).toMatch(
      PERSIAN_SCRIPT,
    );
    const tooLong = await ask(telegram, parisa, 'ب'.repeat(9000));
    expect(tooLong.text).toContain('۹۰۰۰');
    expect(tooLong.text).toContain('۸۰۰۰');
    // The answers themselves are the model's, in whatever language it writes.
    expect((await ask(telegram, parisa, 'سلام، خوبی؟')).text).toBe('echo: سلام، خوبی؟');
  });

  it('refuses users outside ALLOWED_USER_IDS without asking a provider, in their language', async () => {
    const refusal = await ask(telegram, stranger, 'let me in');
    expect(refusal.text).toBe('Sorry, this bot is private. Ask its owner to add your Telegram id.');
    expect((await ask(telegram, stranger, '/start')).text).toBe(refusal.text);
    expect((await ask(telegram, persianStranger, 'سلام')).text).toMatch(/^متأسفم، این ربات خصوصی است/);
    expect(requestsEndingWith(providers, 'let me in')).toEqual([]);
    expect(requestsEndingWith(providers, 'سلام')).toEqual([]);
  });

  it('lets admins in even when they are not on the allow-list', async () => {
    expect((await ask(telegram, admin, 'admin here')).text).toBe('echo: admin here');
    expect(crashRecords(bot)).toEqual([]);
    expect(suspiciousTexts(telegram)).toEqual([]);
  });
});
