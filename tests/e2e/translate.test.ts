import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { type FakeProviderServer, type RecordedRequest, startFakeProviderServer } from '../fakes/provider-server';
import { fakeTranslator, translationRequest } from '../fakes/provider-server/translator';
import { type FakeTelegramServer, startFakeTelegramServer } from '../fakes/telegram-server';
import { ask, botEnv, crashRecords, FIRST_PROVIDER, startPollingBot, suspiciousTexts } from '../helpers/bot-harness';
import type { BotProcess } from '../helpers/bot-process';

/**
 * `/translate`, through the built bot: many lines in few requests in the translation wire format (docs/architecture.md),
 * answers validated (a short answer is retried, never shown shifted), replies to a message, and
 * the usage text.
 */
describe('/translate', () => {
  let telegram: FakeTelegramServer;
  let providers: FakeProviderServer;
  let bot: BotProcess;
  const user = { id: 3001, first_name: 'Tara', language_code: 'en' };
  const lines = Array.from({ length: 25 }, (_, index) => `line number ${index + 1}`);

  beforeAll(async () => {
    [telegram, providers] = await Promise.all([startFakeTelegramServer(), startFakeProviderServer()]);
    bot = await startPollingBot(
      telegram,
      botEnv(telegram, providers, [FIRST_PROVIDER], { RATE_LIMIT_PER_MINUTE: '0', TRANSLATE_MAX_TEXTS: '30' }),
    );
  });
  afterAll(async () => {
    await bot?.stop();
    await Promise.all([telegram?.stop(), providers?.stop()]);
  });
  beforeEach(() => {
    providers.reset();
    providers.setHandler(fakeTranslator());
  });

  const translationRequests = (): RecordedRequest[] =>
    providers.requests.filter((request) => translationRequest(request) !== undefined);

  it('translates 25 lines in order, in at most 4 requests in the wire format', async () => {
    const reply = await ask(telegram, user, `/translate fa\n${lines.join('\n')}`);

    expect(reply.text.split('\n')).toEqual(lines.map((line) => `fa:${line}`));
    const requests = translationRequests();
    expect(requests.length).toBeGreaterThanOrEqual(1);
    expect(requests.length).toBeLessThanOrEqual(4);
    for (const request of requests) {
      // The last user message is exactly the JSON object {"target", "texts"}.
      const last = request.messages.at(-1);
      expect(last?.role).toBe('user');
      expect(Object.keys(JSON.parse(last?.content ?? '{}'))).toEqual(['target', 'texts']);
      expect(translationRequest(request)?.target).toBe('fa');
    }
    expect(requests.flatMap((request) => translationRequest(request)?.texts ?? []).sort()).toEqual([...lines].sort());
  });

  it('retries a batch the model answered short, and never shows lines shifted', async () => {
    // The model drops the last translation whenever it gets more than 4 texts at once.
    providers.setHandler(
      fakeTranslator((translations) => (translations.length > 4 ? translations.slice(0, -1) : translations)),
    );

    const reply = await ask(telegram, user, `/translate fa\n${lines.join('\n')}`);

    expect(reply.text.split('\n')).toEqual(lines.map((line) => `fa:${line}`));
    const sizes = translationRequests().map((request) => translationRequest(request)?.texts.length ?? 0);
    expect(sizes.some((size) => size > 4)).toBe(true); // the short answers happened …
    expect(sizes.filter((size) => size <= 4).reduce((sum, size) => sum + size, 0)).toBe(25); // … and were retried smaller
  });

  it('keeps one output line per input line when a translation spans lines', async () => {
    // The model breaks its translation of the second text over two lines.
    providers.setHandler(
      fakeTranslator((translations) =>
        translations.map((text, index) => (index === 1 ? text.replace(' ', '\n') : text)),
      ),
    );

    const reply = await ask(telegram, user, '/translate fa\nfirst\nsecond text\nthird');

    expect(reply.text.split('\n')).toEqual(['fa:first', 'fa:second text', 'fa:third']);
  });

  it('does not take a blank translation for an answer', async () => {
    // The model answers the right number of entries, but the first is blank.
    providers.setHandler(
      fakeTranslator((translations, request) =>
        translations.map((text, index) =>
          index === 0 && translationRequest(request)?.texts[0] === 'first' ? ' ' : text,
        ),
      ),
    );

    const reply = await ask(telegram, user, '/translate fa\nfirst\nsecond');

    expect(reply.text.split('\n').slice(0, 2)).toEqual(['⚠️ (not translated) first', 'fa:second']);
  });

  it('marks a line the model keeps getting wrong, in its own place', async () => {
    // Any batch holding line 7 comes back one short, even alone.
    providers.setHandler(
      fakeTranslator((translations, request) =>
        translationRequest(request)?.texts.includes('line number 7') ? translations.slice(1) : translations,
      ),
    );
    const eight = lines.slice(0, 8);

    const reply = await ask(telegram, user, `/translate German\n${eight.join('\n')}`);

    const shown = reply.text.split('\n');
    expect(shown.slice(0, 8)).toEqual([
      ...eight.slice(0, 6).map((line) => `German:${line}`),
      '⚠️ (not translated) line number 7',
      'German:line number 8',
    ]);
    expect(shown.at(-1)).toBe('⚠️ 1 line(s) could not be translated and are shown as they were.');
  });

  it('translates the lines of the message it replies to', async () => {
    const original = await telegram.sendText(user, 'good morning\nsee you later').message;
    await telegram.waitForMessage(user.id, (message) => message.text === 'echo: good morning\nsee you later', 10_000);

    const since = telegram.mark();
    telegram.sendText(user, '/translate de', { reply_to_message: original! });
    const reply = await telegram.waitForMessage(user.id, (message) => message.fromBot, { since, timeoutMs: 10_000 });

    expect(reply.text).toBe('de:good morning\nde:see you later');
    expect(translationRequests().map((request) => translationRequest(request))).toEqual([
      { target: 'de', texts: ['good morning', 'see you later'] },
    ]);
  });

  it('splits a long translation across messages, keeping the order', async () => {
    const long = Array.from(
      { length: 30 },
      (_, index) => `${index + 1}. ${'a fairly long sentence to translate '.repeat(6).trim()}`,
    );
    const update = telegram.sendText(user, `/translate es\n${long.join('\n')}`);
    await bot.waitForLog((record) => record.msg === 'translated' && record.update_id === update.update_id, 10_000);

    const messages = telegram
      .messagesIn(user.id)
      .filter((message) => message.message_id > (update.message?.message_id ?? 0));
    expect(messages.length).toBeGreaterThanOrEqual(2);
    for (const message of messages) expect(message.text.length).toBeLessThanOrEqual(4096);
    expect(
      messages
        .map((message) => message.text)
        .join('\n')
        .split('\n'),
    ).toEqual(long.map((line) => `es:${line}`));
  });

  it('works in a group, addressed to the bot by name', async () => {
    const group = { id: -1003000000001, title: 'Translators' };
    const since = telegram.mark();
    telegram.sendText(user, '/translate@switchboard_test_bot fr\nhello\nthank you', { chat: group });
    const reply = await telegram.waitForMessage(group.id, (message) => message.fromBot, { since, timeoutMs: 10_000 });
    expect(reply.text).toBe('fr:hello\nfr:thank you');
  });

  it('explains itself when sent alone, and asks for text when given only a language', async () => {
    const usage = await ask(telegram, user, '/translate');
    expect(usage.text).toMatch(/^Usage:\n\/translate <language>/);

    const nothing = await ask(telegram, user, '/translate fa');
    expect(nothing.text).toContain("There's nothing to translate");
    expect(providers.requests).toHaveLength(0);
  });

  it('refuses more lines than TRANSLATE_MAX_TEXTS without asking the model', async () => {
    const many = Array.from({ length: 31 }, (_, index) => `text ${index}`);
    const reply = await ask(telegram, user, `/translate fa\n${many.join('\n')}`);
    expect(reply.text).toBe("That's 31 lines; I translate at most 30 at once. Please split them up.");
    expect(providers.requests).toHaveLength(0);
    expect(crashRecords(bot)).toEqual([]);
    expect(suspiciousTexts(telegram)).toEqual([]);
  });
});
