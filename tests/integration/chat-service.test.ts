import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { type ChatReply, ChatService, CUT_OFF_MARK, isStaleAnswer } from '../../bot/services/chat';
import { makeBatches, parseTranslations, Translator } from '../../bot/services/translate';
import { isRouterError } from '../../providers/router/errors';
import { countTokens } from '../../providers/router/token-estimate';
import type { ChatMessage } from '../../providers/types';
import { MemoryHistoryStore } from '../../storage/memory/history-store';
import { type HistoryStore, StorageUnavailableError } from '../../storage/types';
import { dialectFor, type FakeProviderServer, startFakeProviderServer } from '../fakes/provider-server';
import { fakeTranslator, translationRequest } from '../fakes/provider-server/translator';
import { until } from '../helpers/bot-harness';
import { buildRouter } from '../helpers/pool';
import { descriptorOf, FIRST_PROVIDER, SECOND_PROVIDER } from '../helpers/providers';

let server: FakeProviderServer;
beforeAll(async () => {
  server = await startFakeProviderServer();
});
afterAll(async () => server.stop());
beforeEach(() => server.reset());

/** The first two providers of the registry: the one that answers, and the fallback. */
const first = descriptorOf(FIRST_PROVIDER);
const second = descriptorOf(SECOND_PROVIDER);
/** Every provider failing on its side, each in its own words. */
const serverError = (request: { dialect: string }) => dialectFor(request.dialect).errors.serverError();

const SYSTEM_PROMPT = 'You are Switchboard.';
const limits = { maxMessages: 20, ttlSeconds: 3600 };

function makeService(
  history: HistoryStore = new MemoryHistoryStore(),
  onHistoryUnavailable?: (error: unknown) => void,
) {
  const { router } = buildRouter(server, [
    { descriptor: first, keys: ['key-a-aaaaaaaaaaaa'] },
    { descriptor: second, keys: ['key-b-bbbbbbbbbbbb'] },
  ]);
  return {
    history,
    translator: new Translator(router),
    service: new ChatService({
      router,
      history,
      historyLimits: limits,
      systemPrompt: SYSTEM_PROMPT,
      maxOutputTokens: 512,
      ...(onHistoryUnavailable === undefined ? {} : { onHistoryUnavailable }),
    }),
  };
}

describe('sendMessageWithHistory', () => {
  it('sends the growing history, stores each exchange, and keeps conversations apart', async () => {
    const { service, history } = makeService();
    await service.sendMessageWithHistory('alice', 'سلام، اسم من آلیس است');
    await service.sendMessageWithHistory('bob', 'I am Bob');
    await service.sendMessageWithHistory('alice', 'دومین پیام ۲');
    const third = await service.sendMessageWithHistory('alice', 'third');

    const aliceRequests = server.requests.filter((request) => request.messages.some((m) => m.content.includes('آلیس')));
    expect(aliceRequests.map((request) => request.messages.length)).toEqual([2, 4, 6]);
    expect(server.requests.at(-1)!.messages).toEqual([
      { role: 'system', content: SYSTEM_PROMPT },
      { role: 'user', content: 'سلام، اسم من آلیس است' },
      { role: 'assistant', content: 'echo: سلام، اسم من آلیس است' },
      { role: 'user', content: 'دومین پیام ۲' },
      { role: 'assistant', content: 'echo: دومین پیام ۲' },
      { role: 'user', content: 'third' },
    ]);
    expect(
      server.requests.every(
        (request) =>
          !request.messages.some((m) => m.content === 'I am Bob') ||
          !request.messages.some((m) => m.content.includes('آلیس')),
      ),
    ).toBe(true);
    expect(third).toMatchObject({ text: 'echo: third', provider: first.name, historyAvailable: true });
    expect(await history.load('alice')).toHaveLength(6);
  });

  it('leaves no orphan turn when every provider fails, and does not duplicate it on retry', async () => {
    const { service, history } = makeService();
    await service.sendMessageWithHistory('carol', 'first');
    server.setHandler(serverError);
    const error = await service.sendMessageWithHistory('carol', 'lost?').catch((caught: unknown) => caught);
    expect(isRouterError(error)).toBe(true);
    expect(await history.load('carol')).toHaveLength(2);

    server.reset();
    await service.sendMessageWithHistory('carol', 'lost?');
    expect((await history.load('carol')).map((message: ChatMessage) => message.content)).toEqual([
      'first',
      'echo: first',
      'lost?',
      'echo: lost?',
    ]);
  });

  it('stores an exchange once when the same update is answered twice (after a crash)', async () => {
    const { service, history } = makeService();
    await service.sendMessageWithHistory('zoe', 'once', { exchangeId: 'update:42' });
    await service.sendMessageWithHistory('zoe', 'once', { exchangeId: 'update:42' });
    expect(await history.load('zoe')).toHaveLength(2);
  });

  it('drops the oldest history first to fit a small context window', async () => {
    const history = new MemoryHistoryStore();
    for (let index = 0; index < 8; index++) {
      await history.append(
        'dave',
        [
          { role: 'user', content: `question ${index} ${'word '.repeat(300)}` },
          { role: 'assistant', content: `answer ${index}` },
        ],
        limits,
      );
    }
    const { router } = buildRouter(server, [
      { descriptor: { ...first, contextWindowTokens: 2600 }, keys: ['key-a-aaaaaaaaaaaa'] },
    ]);
    const service = new ChatService({
      router,
      history,
      historyLimits: limits,
      systemPrompt: SYSTEM_PROMPT,
      maxOutputTokens: 512,
    });
    await service.sendMessageWithHistory('dave', 'latest');
    const sent = server.requests[0]!.messages;
    expect(sent[0]).toEqual({ role: 'system', content: SYSTEM_PROMPT });
    expect(sent.at(-1)).toEqual({ role: 'user', content: 'latest' });
    expect(sent.length).toBeLessThan(18);
    expect(sent[1]?.content).not.toContain('question 0 ');
    expect(sent.at(-2)).toEqual({ role: 'assistant', content: 'answer 7' });
  });

  it('answers without history when the history store is away, and says so', async () => {
    const unavailable: HistoryStore = {
      load: async () => {
        throw new StorageUnavailableError('Redis is unavailable');
      },
      append: async () => {
        throw new StorageUnavailableError('Redis is unavailable');
      },
      replaceLast: async () => {
        throw new StorageUnavailableError('Redis is unavailable');
      },
      clear: async () => {
        throw new StorageUnavailableError('Redis is unavailable');
      },
    };
    const notices: unknown[] = [];
    const { service } = makeService(unavailable, (error) => notices.push(error));
    const reply = await service.sendMessageWithHistory('erin', 'hello');
    expect(reply).toMatchObject({ text: 'echo: hello', historyAvailable: false });
    expect(notices.length).toBeGreaterThan(0);
  });
});

describe('streamMessageWithHistory', () => {
  it('stores the exchange once the stream finishes', async () => {
    const { service, history } = makeService();
    const events = [];
    for await (const event of service.streamMessageWithHistory('frank', 'stream me')) events.push(event.type);
    expect(events[0]).toBe('start');
    expect(events.slice(-2)).toEqual(['finish', 'stored']);
    // Stored with their token counts (counted once, reused by every later request).
    expect(await history.load('frank')).toEqual([
      { role: 'user', content: 'stream me', tokens: countTokens('stream me') },
      { role: 'assistant', content: 'echo: stream me', tokens: countTokens('echo: stream me') },
    ]);
  });

  it('stores nothing when the stream breaks off', async () => {
    server.setHandler(() => ({ type: 'cut', text: 'half an answer', afterChunks: 2 }));
    const { service, history } = makeService();
    const outcome = await (async () => {
      for await (const _event of service.streamMessageWithHistory('gina', 'break')) {
        // drain
      }
    })().catch((error: unknown) => error);
    expect(isRouterError(outcome) && outcome.kind).toBe('interrupted');
    expect(await history.load('gina')).toEqual([]);
  });
});

describe('regenerate, continue and stop', () => {
  it('regenerates the last answer in its place, with the system prompt and preference of the request', async () => {
    server.setHandler((request) => ({ type: 'reply', text: `answer ${request.index + 1}` }));
    const { service, history } = makeService();
    const first = await service.sendMessageWithHistory('hana', 'question');
    const again = await service.send(
      'hana',
      { type: 'regenerate', answerTag: first.answerTag },
      { systemPrompt: 'Be brief.', avoid: [first.provider] },
    );
    expect(again).toMatchObject({ text: 'answer 2', provider: second.name, cutOff: false });
    expect(server.requests[1]?.messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'question' },
    ]);
    expect((await history.load('hana')).map((message) => message.content)).toEqual(['question', 'answer 2']);
    expect(await service.lastAnswerTag('hana')).toBe(again.answerTag);
    // The first answer's tag is stale now: refused before any provider is asked.
    const stale = await service.send('hana', { type: 'regenerate', answerTag: first.answerTag }).catch((e) => e);
    expect(isStaleAnswer(stale)).toBe(true);
    expect(server.requests).toHaveLength(2);
  });

  it('continues an answer cut at the length limit, appending to it', async () => {
    const length = first.wireFormat === 'openai-chat' ? 'length' : 'MAX_TOKENS';
    server.enqueue({ type: 'reply', text: 'one two', finishReason: length }, { type: 'reply', text: ' three' });
    const { service, history } = makeService();
    const cut = await service.sendMessageWithHistory('ivan', 'count');
    expect(cut.finishReason).toBe('length');
    const more = await service.send('ivan', { type: 'continue', answerTag: cut.answerTag });
    expect(more.text).toBe(' three');
    expect((await history.load('ivan')).map((message) => message.content)).toEqual(['count', 'one two three']);
  });

  it('stops a stream at once, keeping what arrived and storing it as cut off', async () => {
    server.setHandler(() => ({ type: 'stall', text: 'partial words here', afterChunks: 2 }));
    const { service, history } = makeService();
    const stop = new AbortController();
    const events: string[] = [];
    let reply: ChatReply | undefined;
    for await (const event of service.stream('jude', { type: 'message', text: 'go' }, { stop: stop.signal })) {
      events.push(event.type);
      if (event.type === 'text-delta' && events.filter((type) => type === 'text-delta').length === 2) stop.abort();
      if (event.type === 'stored') reply = event.reply;
    }
    expect(reply).toMatchObject({ text: 'partial words ', cutOff: true, provider: first.name });
    // The provider sees its connection closed (the request was aborted, not left to run).
    await until(() => server.abandoned.includes(0), 'the provider request to be aborted', 2000);
    expect((await history.load('jude')).map((message) => message.content)).toEqual([
      'go',
      `partial words\n\n${CUT_OFF_MARK}`,
    ]);
  });
});

describe('translateMultipleTexts', () => {
  const lines = Array.from({ length: 25 }, (_, index) => `line ${index + 1} — سطر ${index + 1}`);

  it('translates 25 lines in order in at most 4 requests, in the wire format', async () => {
    server.setHandler(fakeTranslator());
    const { translator } = makeService();
    const results = await translator.translateMultipleTexts(lines, 'fa');
    expect(results).toEqual(lines.map((line) => ({ ok: true, text: `fa:${line}` })));
    expect(server.requests.length).toBeLessThanOrEqual(4);
    for (const request of server.requests) {
      const last = request.messages.at(-1)!.content;
      expect(Object.keys(JSON.parse(last))).toEqual(['target', 'texts']);
      expect(request.body).toMatchObject({ response_format: { type: 'json_object' } });
    }
  });

  it('retries a batch whose answer is short, by halves, and never shifts lines', async () => {
    let tampered = 0;
    server.setHandler(
      fakeTranslator((translations) => {
        if (translations.length > 5 && tampered < 2) {
          tampered += 1;
          return translations.slice(1); // one entry missing: the classic misalignment
        }
        return translations;
      }),
    );
    const { translator } = makeService();
    const results = await translator.translateMultipleTexts(lines, 'German');
    expect(results).toEqual(lines.map((line) => ({ ok: true, text: `German:${line}` })));
  });

  it('marks a text that keeps failing in its own place', async () => {
    server.setHandler(
      fakeTranslator((translations, request) =>
        translationRequest(request)?.texts.includes('poison') ? 'Sorry, I cannot help with that.' : translations,
      ),
    );
    const { translator } = makeService();
    const results = await translator.translateMultipleTexts(['one', 'poison', 'three'], 'fr');
    expect(results).toEqual([
      { ok: true, text: 'fr:one' },
      { ok: false, text: 'poison' },
      { ok: true, text: 'fr:three' },
    ]);
  });

  it('reports the pool error on every text when no provider can answer', async () => {
    server.setHandler(serverError);
    const { translator } = makeService();
    const results = await translator.translateMultipleTexts(['a', 'b'], 'fr');
    expect(results.every((result) => !result.ok && result.error?.kind === 'unavailable')).toBe(true);
  });
});

describe('translation helpers', () => {
  it('batches by count and balances the batches', () => {
    const items = Array.from({ length: 25 }, (_, index) => ({ text: `t${index}` }));
    expect(makeBatches(items).map((batch) => batch.length)).toEqual([13, 12]);
    const big = Array.from({ length: 5 }, () => ({ text: 'x'.repeat(1400) }));
    expect(makeBatches(big).map((batch) => batch.length)).toEqual([2, 2, 1]);
  });

  it('validates answers: JSON object, exact count, strings only; tolerates a code fence', () => {
    expect(parseTranslations('{"translations":["a","b"]}', 2)).toEqual(['a', 'b']);
    expect(parseTranslations('```json\n{"translations":["a","b"]}\n```', 2)).toEqual(['a', 'b']);
    expect(parseTranslations('{"translations":["a"]}', 2)).toBeUndefined();
    expect(parseTranslations('{"translations":["a", 2]}', 2)).toBeUndefined();
    expect(parseTranslations('not json', 1)).toBeUndefined();
    expect(parseTranslations('{"other":["a"]}', 1)).toBeUndefined();
  });
});
