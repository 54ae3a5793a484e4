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
  turnsOf,
  suspiciousTexts,
} from '../helpers/bot-harness';
import type { BotProcess } from '../helpers/bot-process';
import { startTestRedis, type TestRedis } from '../helpers/redis-server';

/**
 * Conversation history, through the built bot with Redis storage: the model sees the growing
 * conversation, each user's own only, /reset forgets it, and a restart of the bot keeps it.
 */
describe('chat history', () => {
  let telegram: FakeTelegramServer;
  let providers: FakeProviderServer;
  let redis: TestRedis;
  let bot: BotProcess;
  let env: Record<string, string>;
  const alice = { id: 2001, first_name: 'Alice', language_code: 'en' };
  const bob = { id: 2002, first_name: 'Bob', language_code: 'en' };

  beforeAll(async () => {
    [telegram, providers, redis] = await Promise.all([
      startFakeTelegramServer(),
      startFakeProviderServer(),
      startTestRedis(),
    ]);
    env = botEnv(telegram, providers, [FIRST_PROVIDER], {
      REDIS_URL: redis.url,
      SYSTEM_PROMPT: 'You are the e2e bot.',
    });
    bot = await startPollingBot(telegram, env);
  });
  afterAll(async () => {
    await bot?.stop();
    await Promise.all([telegram?.stop(), providers?.stop(), redis?.stop()]);
  });

  it('sends the growing conversation with each of three messages, answered in order', async () => {
    expect((await ask(telegram, alice, 'my name is Alice')).text).toBe('echo: my name is Alice');
    expect((await ask(telegram, alice, 'I like tea')).text).toBe('echo: I like tea');
    expect((await ask(telegram, alice, 'what do I like?')).text).toBe('echo: what do I like?');

    const [first] = requestsEndingWith(providers, 'my name is Alice');
    const [third] = requestsEndingWith(providers, 'what do I like?');
    expect(first?.messages[0]).toEqual({ role: 'system', content: 'You are the e2e bot.' });
    expect(turnsOf(first)).toEqual(['user: my name is Alice']);
    expect(turnsOf(requestsEndingWith(providers, 'I like tea')[0])).toEqual([
      'user: my name is Alice',
      'assistant: echo: my name is Alice',
      'user: I like tea',
    ]);
    expect(turnsOf(third)).toEqual([
      'user: my name is Alice',
      'assistant: echo: my name is Alice',
      'user: I like tea',
      'assistant: echo: I like tea',
      'user: what do I like?',
    ]);
  });

  it("never lets another user's history leak into a conversation", async () => {
    expect((await ask(telegram, bob, 'hello from Bob')).text).toBe('echo: hello from Bob');
    expect(turnsOf(requestsEndingWith(providers, 'hello from Bob')[0])).toEqual(['user: hello from Bob']);

    await ask(telegram, alice, 'and Bob?');
    const aliceTurns = turnsOf(requestsEndingWith(providers, 'and Bob?')[0]);
    expect(aliceTurns).toHaveLength(7);
    expect(aliceTurns.join('\n')).not.toContain('Bob:');
    expect(aliceTurns.join('\n')).not.toContain('hello from Bob');
  });

  it('forgets the conversation on /reset (and only that user’s)', async () => {
    const done = await ask(telegram, alice, '/reset');
    expect(done.text).toBe('Done — I forgot our conversation. What shall we talk about?');

    await ask(telegram, alice, 'fresh start');
    expect(turnsOf(requestsEndingWith(providers, 'fresh start')[0])).toEqual(['user: fresh start']);

    await ask(telegram, bob, 'still there?');
    expect(turnsOf(requestsEndingWith(providers, 'still there?')[0])).toEqual([
      'user: hello from Bob',
      'assistant: echo: hello from Bob',
      'user: still there?',
    ]);
  });

  it('answers one chat in order and different chats in parallel', async () => {
    // "slow first" takes 1.5 s; everything else is answered at once.
    providers.setHandler((request) => {
      const text = request.messages.at(-1)?.content ?? '';
      return { type: 'reply', text: `echo: ${text}`, delayMs: text === 'slow first' ? 1500 : 0 };
    });
    const carol = { id: 2003, first_name: 'Carol', language_code: 'en' };
    const since = telegram.mark();
    telegram.sendText(carol, 'slow first');
    telegram.sendText(carol, 'quick second');
    telegram.sendText(bob, 'meanwhile');

    // Bob is not kept waiting by Carol's slow answer …
    await telegram.waitForMessage(bob.id, (message) => message.text === 'echo: meanwhile', {
      since,
      timeoutMs: 10_000,
    });
    expect(telegram.messagesIn(carol.id)).toEqual([]);
    // … and Carol's second message waits for her first, and sees it in the history.
    await telegram.waitForMessage(carol.id, (message) => message.text === 'echo: quick second', {
      since,
      timeoutMs: 10_000,
    });
    expect(telegram.messagesIn(carol.id).map((message) => message.text)).toEqual([
      'echo: slow first',
      'echo: quick second',
    ]);
    expect(turnsOf(requestsEndingWith(providers, 'quick second')[0])).toEqual([
      'user: slow first',
      'assistant: echo: slow first',
      'user: quick second',
    ]);
  });

  it('keeps history in Redis across a restart of the bot, without answering old messages twice', async () => {
    await ask(telegram, alice, 'remember the number 42');
    expect(crashRecords(bot)).toEqual([]);
    expect(suspiciousTexts(telegram)).toEqual([]);
    expect(await bot.stop('SIGTERM')).toBe(0);
    const answersBefore = telegram.messagesIn(alice.id).length;

    bot = await startPollingBot(telegram, env);
    await ask(telegram, alice, 'which number?');
    expect(turnsOf(requestsEndingWith(providers, 'which number?')[0])).toEqual([
      'user: fresh start',
      'assistant: echo: fresh start',
      'user: remember the number 42',
      'assistant: echo: remember the number 42',
      'user: which number?',
    ]);
    // Updates handled before the restart were confirmed: the new process answers only the new one.
    expect(telegram.messagesIn(alice.id)).toHaveLength(answersBefore + 1);
    expect(requestsEndingWith(providers, 'remember the number 42')).toHaveLength(1);
    expect(crashRecords(bot)).toEqual([]);
    expect(suspiciousTexts(telegram)).toEqual([]);
  });
});
