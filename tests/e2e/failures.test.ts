import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { type FakeProviderServer, startFakeProviderServer } from '../fakes/provider-server';
import { type FakeTelegramServer, startFakeTelegramServer } from '../fakes/telegram-server';
import {
  botEnv,
  crashRecords,
  FIRST_PROVIDER,
  requestsEndingWith,
  SECOND_PROVIDER,
  startPollingBot,
  turnsOf,
  suspiciousTexts,
} from '../helpers/bot-harness';
import type { BotProcess } from '../helpers/bot-process';

const UNAVAILABLE = "The AI providers aren't answering right now. Please try again in a minute.";

/**
 * When the providers fail, through the built bot (two providers, short timeouts): one clear
 * message per question, in the user's language, that says what happened; after recovery the bot
 * answers normally and the conversation holds no trace of the failed turns.
 */
describe('provider failures', () => {
  let telegram: FakeTelegramServer;
  let providers: FakeProviderServer;
  let bot: BotProcess;
  const user = { id: 9001, first_name: 'Fay', language_code: 'en' };
  const persian = { id: 9002, first_name: 'Parisa', language_code: 'fa' };

  beforeAll(async () => {
    [telegram, providers] = await Promise.all([startFakeTelegramServer(), startFakeProviderServer()]);
    bot = await startPollingBot(
      telegram,
      botEnv(telegram, providers, [FIRST_PROVIDER, SECOND_PROVIDER], {
        RATE_LIMIT_PER_MINUTE: '0',
        ATTEMPT_TIMEOUT_MS: '600',
        FIRST_TOKEN_TIMEOUT_MS: '600',
        STREAM_IDLE_TIMEOUT_MS: '600',
        REQUEST_DEADLINE_MS: '5000',
        // A hang or a broken stream opens a provider's breaker at once (by design); here it lets the
        // next request probe again after 1 ms, so each case sees every provider, whatever ran before.
        BREAKER_FAILURE_THRESHOLD: '20',
        BREAKER_OPEN_MS: '1',
      }),
    );
  });
  afterAll(async () => {
    await bot?.stop();
    await Promise.all([telegram?.stop(), providers?.stop()]);
  });
  beforeEach(() => providers.reset());

  /**
   * Sends `text` and resolves with every message the bot sent for it. A /help sent right after is
   * the fence: one chat is handled in order, so once /help is answered the question is done.
   */
  async function outcomeOf(from: typeof user, text: string): Promise<string[]> {
    const before = telegram.messagesIn(from.id).length;
    const since = telegram.mark();
    telegram.sendText(from, text);
    telegram.sendText(from, '/help');
    const help = await telegram.waitForMessage(from.id, (message) => message.text.includes('/translate'), {
      since,
      timeoutMs: 10_000,
    });
    return telegram
      .messagesIn(from.id)
      .slice(before)
      .filter((message) => message.message_id !== help.message_id)
      .map((message) => message.text);
  }

  it('says once, clearly, that the providers are down when every one fails', async () => {
    providers.setHandler(() => ({ type: 'error', status: 500, body: { error: { message: 'internal error' } } }));

    const messages = await outcomeOf(user, 'first question');

    expect(messages).toEqual([UNAVAILABLE]);
    expect(providers.requestsFor(FIRST_PROVIDER)).toHaveLength(1);
    expect(providers.requestsFor(SECOND_PROVIDER)).toHaveLength(1);
  });

  it('says the same, once, when a /translate finds every provider down', async () => {
    providers.setHandler(() => ({ type: 'error', status: 500, body: { error: { message: 'internal error' } } }));
    const messages = await outcomeOf(user, '/translate fa\nfirst line\nsecond line');
    expect(messages).toEqual([UNAVAILABLE]);
  });

  it('tells a Persian-speaking user in Persian', async () => {
    providers.setHandler(() => ({ type: 'error', status: 503, body: { error: { message: 'overloaded' } } }));

    const messages = await outcomeOf(persian, 'سلام');

    expect(messages).toEqual(['سرویس‌های هوش مصنوعی الان پاسخ نمی‌دهند. لطفاً یک دقیقهٔ دیگر دوباره امتحان کن.']);
  });

  it('answers normally after recovery, with no orphan or duplicated turn in the history', async () => {
    const first = await outcomeOf(user, 'are you back?');
    expect(first).toEqual(['echo: are you back?']);
    expect(turnsOf(requestsEndingWith(providers, 'are you back?')[0])).toEqual(['user: are you back?']);

    await outcomeOf(user, 'good');
    expect(turnsOf(requestsEndingWith(providers, 'good')[0])).toEqual([
      'user: are you back?',
      'assistant: echo: are you back?',
      'user: good',
    ]);
  });

  it('says the answer broke off when a stream is cut, and keeps no half turn', async () => {
    providers.setHandler(() => ({ type: 'cut', text: 'this answer will never be finished at all', afterChunks: 3 }));

    const messages = await outcomeOf(user, 'tell me everything');

    expect(messages).toEqual(['The answer broke off half-way. Please send your message again.']);
    // Only the provider that started answering was asked: its words are not glued to another's.
    expect(providers.requests).toHaveLength(1);

    providers.reset();
    await outcomeOf(user, 'again please');
    expect(turnsOf(requestsEndingWith(providers, 'again please')[0])).toEqual([
      'user: are you back?',
      'assistant: echo: are you back?',
      'user: good',
      'assistant: echo: good',
      'user: again please',
    ]);
  });

  it('in a group, turns the half-written preview into the notice rather than leaving it behind', async () => {
    const group = { id: -1009000000001, title: 'Broken stream' };
    // Three words, then silence until the stream idle timeout.
    providers.setHandler(() => ({ type: 'stall', text: 'this answer stops right here', afterChunks: 3 }));
    const since = telegram.mark();
    const update = telegram.sendText(user, '@switchboard_test_bot tell the group everything', { chat: group });
    await telegram.waitForMessage(group.id, (message) => message.fromBot, { since, timeoutMs: 10_000 }); // the preview
    await bot.waitForLog((record) => record.update_id === update.update_id && record.msg === 'no answer', 10_000);
    telegram.sendText(user, '/help', { chat: group });
    await telegram.waitForMessage(group.id, (message) => message.text.includes('/translate'), {
      since,
      timeoutMs: 10_000,
    });

    const [notice, help, ...others] = telegram.messagesIn(group.id);
    expect(others).toEqual([]);
    expect(help?.text).toContain('/translate');
    expect(notice?.text).toBe('The answer broke off half-way. Please send your message again.');
    expect(notice?.replyToMessageId).toBe(update.message?.message_id);
  });

  it('gives up on a provider that hangs, within the attempt timeout', async () => {
    providers.setHandler((request) =>
      request.dialect === FIRST_PROVIDER
        ? { type: 'hang' }
        : { type: 'error', status: 502, body: { error: { message: 'bad gateway' } } },
    );

    const messages = await outcomeOf(user, 'anyone there?');

    expect(messages).toEqual([UNAVAILABLE]);
    expect(providers.requests.map((request) => request.dialect)).toEqual([FIRST_PROVIDER, SECOND_PROVIDER]);
  });

  it('tells the user when the free quota is used up, rather than that providers are down', async () => {
    // Last: both keys then cool down for an hour.
    providers.setHandler(() => ({
      type: 'error',
      status: 429,
      headers: { 'retry-after': '3600' },
      body: { error: { message: 'Rate limit reached for requests', type: 'requests', code: 'rate_limit_exceeded' } },
    }));

    const messages = await outcomeOf(user, 'one more');

    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(/^All my free AI quota is busy right now\. Please try again in about \d+ min\.$/);
    expect(crashRecords(bot)).toEqual([]);
    expect(suspiciousTexts(telegram)).toEqual([]);
  });
});
