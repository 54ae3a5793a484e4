import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { type FakeProviderServer, startFakeProviderServer } from '../fakes/provider-server';
import {
  type FakeTelegramServer,
  MAX_MESSAGE_LENGTH,
  type StoredMessage,
  startFakeTelegramServer,
} from '../fakes/telegram-server';
import {
  answered,
  botEnv,
  crashRecords,
  FIRST_PROVIDER,
  startPollingBot,
  suspiciousTexts,
} from '../helpers/bot-harness';
import type { BotProcess } from '../helpers/bot-process';

/** An answer of exactly `length` characters: paragraphs of plain words separated by blank lines. */
function longAnswer(length: number): string {
  const paragraphs: string[] = [];
  for (let index = 1; paragraphs.join('\n\n').length < length; index++) {
    paragraphs.push(`Paragraph ${index}: ${'the quick brown fox jumps over the lazy dog '.repeat(8).trim()}.`);
  }
  return paragraphs.join('\n\n').slice(0, length).trimEnd().padEnd(length, 'z');
}

/**
 * Long and awkward answers, through the built bot and the fake Telegram's rules (4096 characters,
 * valid HTML): split into valid messages that together are the answer, and delivered even when
 * Telegram refuses the formatting.
 */
describe('long and awkward answers', () => {
  let telegram: FakeTelegramServer;
  let providers: FakeProviderServer;
  let bot: BotProcess;
  const user = { id: 6001, first_name: 'Lena', language_code: 'en' };
  const group = { id: -1006000000001, title: 'Long talk' };

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
  beforeEach(() => {
    providers.reset();
    telegram.clearFailures();
  });

  /** Sends `text` and resolves with every message the bot sent in `chatId` for it. */
  async function answerTo(text: string, chatId = user.id): Promise<StoredMessage[]> {
    const before = new Set(telegram.messagesIn(chatId).map((message) => message.message_id));
    const update = telegram.sendText(user, text, chatId === user.id ? {} : { chat: group });
    await answered(bot, update);
    return telegram.messagesIn(chatId).filter((message) => !before.has(message.message_id));
  }

  it('splits a 10,000-character answer into at least 3 messages of at most 4096 that together are the answer', async () => {
    const answer = longAnswer(10_000);
    expect(answer).toHaveLength(10_000);
    // 20 chunks, 60 ms apart: a draft is shown at the start and another after a second, when the
    // answer so far is already longer than one message.
    const chunks = Array.from({ length: 20 }, (_, index) => answer.slice(index * 500, (index + 1) * 500));
    providers.setHandler(() => ({ type: 'reply', text: answer, chunks, chunkDelayMs: 60 }));

    const messages = await answerTo('tell me a long story');

    expect(messages.length).toBeGreaterThanOrEqual(3);
    for (const message of messages) expect(message.text.length).toBeLessThanOrEqual(MAX_MESSAGE_LENGTH);
    expect(messages.map((message) => message.text).join('\n\n')).toBe(answer);
  });

  it('splits an answer with no break at all (5,000 emoji) without cutting a character in two', async () => {
    const answer = '😀'.repeat(5000);
    providers.setHandler(() => ({ type: 'reply', text: answer }));

    const messages = await answerTo('emoji please');

    expect(messages.length).toBeGreaterThanOrEqual(3);
    for (const message of messages) expect(message.text.length).toBeLessThanOrEqual(MAX_MESSAGE_LENGTH);
    expect(messages.map((message) => message.text).join('')).toBe(answer);
  });

  it('keeps formatting valid in every part: a code block split across messages is closed and reopened', async () => {
    const code = Array.from({ length: 300 }, (_, index) => `const value${index} = compute(${index}); // <tag> & more`);
    providers.setHandler(() => ({
      type: 'reply',
      text: `Here is the code:\n\n\`\`\`ts\n${code.join('\n')}\n\`\`\`\n\nDone.`,
    }));

    const messages = await answerTo('show me code');

    expect(messages.length).toBeGreaterThanOrEqual(3);
    for (const message of messages) {
      // Accepted as HTML by the fake's entity checker, each part with its own code block.
      expect(message.parseMode).toBe('HTML');
      expect(message.entities.some((entity) => entity.type === 'pre')).toBe(true);
    }
    const visible = messages.map((message) => message.text).join('\n');
    expect(visible).toBe(`Here is the code:\n\n${code.join('\n')}\n\nDone.`);
  });

  it('delivers Markdown full of HTML-like text, with every character visible', async () => {
    providers.setHandler(() => ({
      type: 'reply',
      text: 'Use <b>tags</b> & **bold *nested* text**, 5 < 6 > 4, unclosed **bold and `code <with> &amp;` <script>x</script>',
    }));

    const [message, ...rest] = await answerTo('tricky markdown');

    expect(rest).toEqual([]);
    expect(message?.text).toBe(
      'Use <b>tags</b> & bold nested text, 5 < 6 > 4, unclosed **bold and code <with> &amp; <script>x</script>',
    );
    expect(message?.entities.map((entity) => entity.type)).toEqual(['bold', 'italic', 'code']);
  });

  it('resends a part as plain text when Telegram refuses its entities', async () => {
    providers.setHandler(() => ({ type: 'reply', text: 'A **bold** claim & a `snippet`.' }));
    telegram.failNext('sendMessage', {
      error_code: 400,
      description: 'Bad Request: can\'t parse entities: Can\'t find end tag corresponding to start tag "b"',
    });

    const messages = await answerTo('refused formatting');

    expect(messages.map((message) => message.text)).toEqual(['A bold claim & a snippet.']);
    expect(messages[0]?.parseMode).toBeUndefined();
    const refused = telegram.callsTo('sendMessage').filter((call) => !call.ok);
    expect(refused.at(-1)?.response).toMatchObject({ error_code: 400 });
    expect(
      bot.records().some((record) => record.msg === 'Telegram refused the rendered HTML; sent as plain text'),
    ).toBe(true);
  });

  it('in a group, edits the streamed preview into the first part and sends the rest', async () => {
    const answer = longAnswer(10_000);
    // 20 chunks of 500 characters, 20 ms apart: the preview is posted while the answer streams.
    const chunks = Array.from({ length: 20 }, (_, index) => answer.slice(index * 500, (index + 1) * 500));
    providers.setHandler(() => ({ type: 'reply', text: answer, chunks, chunkDelayMs: 20 }));

    const messages = await answerTo('@switchboard_test_bot a long one please', group.id);

    expect(messages.length).toBeGreaterThanOrEqual(3);
    for (const message of messages) expect(message.text.length).toBeLessThanOrEqual(MAX_MESSAGE_LENGTH);
    expect(messages.map((message) => message.text).join('\n\n')).toBe(answer);
    expect(messages[0]?.previousTexts.length).toBeGreaterThanOrEqual(1); // it was the live preview
  });

  it('in a group, edits in plain text when Telegram refuses the final formatting', async () => {
    // Streamed slowly enough for a preview, which the final text is edited into.
    providers.setHandler(() => ({ type: 'reply', text: 'Tea is **great** with `milk`.', chunkDelayMs: 40 }));
    telegram.failNext('editMessageText', {
      error_code: 400,
      description: 'Bad Request: can\'t parse entities: Unsupported start tag "code" at byte offset 21',
    });

    const messages = await answerTo('@switchboard_test_bot tea?', group.id);

    expect(messages.map((message) => message.text)).toEqual(['Tea is great with milk.']);
    expect(messages[0]?.parseMode).toBeUndefined();
    expect(messages[0]?.previousTexts).toHaveLength(1); // the preview, edited once
  });

  it('shows a placeholder rather than nothing when the model answers with blank text', async () => {
    providers.setHandler(() => ({ type: 'reply', text: '  \n ' }));
    const messages = await answerTo('say nothing');
    expect(messages.map((message) => message.text)).toEqual(['…']);
  });

  it('kept every streamed draft within Telegram’s limits, showing the end of a long answer', () => {
    const drafts = telegram.callsTo('sendMessageDraft');
    expect(drafts.filter((call) => !call.ok)).toEqual([]);
    const longDraft = telegram.drafts(user.id).find((draft) => draft.text.startsWith('…'));
    expect(longDraft?.text.length).toBeLessThanOrEqual(MAX_MESSAGE_LENGTH);
    expect(longDraft?.text.length).toBeGreaterThan(4000);
    expect(crashRecords(bot)).toEqual([]);
    expect(suspiciousTexts(telegram)).toEqual([]);
  });
});
