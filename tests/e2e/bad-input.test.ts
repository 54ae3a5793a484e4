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

const ONLY_TEXT = 'I can only read text messages for now. Please send your question as text.';

/**
 * What users send that is not a plain question, through the built bot: a huge message, media, an
 * edit, a channel post, commands with nothing to work on. None crashes the bot; each gets a short
 * sensible reply or is ignored by design; the next message is answered.
 */
describe('bad and unusual input', () => {
  let telegram: FakeTelegramServer;
  let providers: FakeProviderServer;
  let bot: BotProcess;
  const user = { id: 8001, first_name: 'Odd', language_code: 'en' };

  beforeAll(async () => {
    [telegram, providers] = await Promise.all([startFakeTelegramServer(), startFakeProviderServer()]);
    bot = await startPollingBot(
      telegram,
      botEnv(telegram, providers, [FIRST_PROVIDER], { RATE_LIMIT_PER_MINUTE: '0' }),
    );
  });
  afterAll(async () => {
    await bot?.stop();
    await Promise.all([telegram?.stop(), providers?.stop()]);
  });

  it('refuses a 20,000-character message without asking a provider', async () => {
    const reply = await ask(telegram, user, 'x'.repeat(20_000));
    expect(reply.text).toBe(
      'Your message is too long (20000 characters; the most I take is 8000). Please shorten it or split it up.',
    );
    expect(providers.requests).toHaveLength(0);
  });

  it('answers a sticker with a short "text only" notice and a file it cannot read with what it reads', async () => {
    expect((await ask(telegram, user, '', { send: () => telegram.sendSticker(user) })).text).toBe(ONLY_TEXT);
    // Photos, voice notes, PDFs and text files are answered (tests/e2e/media-*.test.ts).
    const zip = () => telegram.sendDocument(user, { fileName: 'archive.zip', mimeType: 'application/zip' });
    expect((await ask(telegram, user, '', { send: zip })).text).toBe(
      'I can read photos, images, voice notes, audio, PDFs and text files, but not this kind of file.',
    );
    expect(providers.requests).toHaveLength(0);
  });

  it('ignores an edited message by design, and answers the next one', async () => {
    const original = telegram.sendText(user, 'original question').message!;
    await telegram.waitForMessage(user.id, (message) => message.text === 'echo: original question', 10_000);
    const answersBefore = telegram.messagesIn(user.id).length;

    telegram.editText(original, 'edited question');
    // One chat is handled in order: once the next message is answered, the edit was handled too.
    expect((await ask(telegram, user, 'next question')).text).toBe('echo: next question');

    expect(telegram.messagesIn(user.id)).toHaveLength(answersBefore + 1);
    expect(requestsEndingWith(providers, 'edited question')).toEqual([]);
  });

  it('ignores a channel post', async () => {
    const since = telegram.mark();
    telegram.channelPost('news for the channel');
    await ask(telegram, user, 'after the post');
    expect(telegram.calls.slice(since).filter((call) => call.params.chat_id === -1001000000001)).toEqual([]);
    expect(requestsEndingWith(providers, 'news for the channel')).toEqual([]);
  });

  it('explains /translate sent with nothing, and points an unknown command to /help', async () => {
    expect((await ask(telegram, user, '/translate')).text).toMatch(/^Usage:\n\/translate <language>/);
    expect((await ask(telegram, user, '/frobnicate')).text).toBe("I don't know that command. See /help.");
  });

  it('shows text that looks like markup exactly as the model wrote it', async () => {
    const tricky = 'a < b && c > d <b>not bold</b> & سلام 👋🏽 <i>';
    expect((await ask(telegram, user, tricky)).text).toBe(`echo: ${tricky}`);
  });

  it('survives a user who blocked the bot (Telegram answers 403)', async () => {
    const blocker = { id: 8002, first_name: 'Gone', language_code: 'en' };
    telegram.setBlocked(blocker.id);
    const update = telegram.sendText(blocker, 'you will never reach me');
    await bot.waitForLog((record) => record.update_id === update.update_id && record.msg === 'update failed', 10_000);
    expect(telegram.messagesIn(blocker.id)).toEqual([]);
    expect(
      telegram.callsTo('sendMessage').filter((call) => call.params.chat_id === blocker.id && call.status === 403)
        .length,
    ).toBeGreaterThan(0);
  });

  it('is still running and answering after all of it', async () => {
    expect((await ask(telegram, user, 'still there?')).text).toBe('echo: still there?');
    expect(bot.child.exitCode).toBeNull();
    // Nothing escaped the error boundaries, and only the blocked user's update failed.
    expect(crashRecords(bot).map((record) => record.user)).toEqual([8002]);
    expect(suspiciousTexts(telegram)).toEqual([]);
    expect(suspiciousTexts(telegram)).toEqual([]);
  });
});
