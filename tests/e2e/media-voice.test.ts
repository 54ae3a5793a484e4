import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { resolveModels } from '../../providers/router/capabilities';
import { PROVIDERS } from '../../providers/registry';
import type { ConfiguredModel, ModelCapabilities, ProviderDescriptor } from '../../providers/types';
import { dialectFor, type FakeProviderServer, startFakeProviderServer } from '../fakes/provider-server';
import { type FakeTelegramServer, startFakeTelegramServer } from '../fakes/telegram-server';
import {
  ask,
  botEnv,
  crashRecords,
  envVar,
  startPollingBot,
  suspiciousTexts,
  testKey,
  turnsOf,
} from '../helpers/bot-harness';
import type { BotProcess } from '../helpers/bot-process';

/**
 * Voice notes through the built bot: transcribed through the pool (a provider's own speech-to-text
 * model first, with its keys rotating under the quota store, and a chat model that takes audio as
 * the fallback), then answered as a chat turn, with a short quote of what was heard. History keeps
 * the transcript. Providers are chosen by their declared capabilities, never by name.
 */

const modelsOf = (descriptor: ProviderDescriptor) =>
  resolveModels(descriptor, { model: descriptor.defaultModel, limits: descriptor.defaultLimits });
const transcribes = (model: ModelCapabilities) => model.operations.includes('transcription');

/** A provider with a transcription model of its own (its own limits), and one whose chat model transcribes. */
const EARS = PROVIDERS.find((descriptor) => modelsOf(descriptor).extraModels.some(transcribes));
const FALLBACK = PROVIDERS.find((descriptor) => descriptor !== EARS && transcribes(modelsOf(descriptor).capabilities));
const DEAF = PROVIDERS.find((descriptor) => {
  const { capabilities, extraModels } = modelsOf(descriptor);
  return !transcribes(capabilities) && !extraModels.some(transcribes);
});
if (EARS === undefined || FALLBACK === undefined || DEAF === undefined) {
  throw new Error(
    'the voice suite needs a provider with a transcription model, one whose chat model transcribes, and one with neither',
  );
}
const EARS_MODEL = (modelsOf(EARS).extraModels.find(transcribes) as ConfiguredModel).model;
const OGG_HEAD = '4f676753';

describe('voice notes', () => {
  let telegram: FakeTelegramServer;
  let providers: FakeProviderServer;
  let bot: BotProcess;
  const user = { id: 9301, first_name: 'Voice', language_code: 'en' };
  const keys = [testKey(EARS.name, 'voice', 1), testKey(EARS.name, 'voice', 2)];

  /** Transcriptions answer `heard`; chat turns echo their last message. */
  const answering = (heard: string) =>
    providers.setHandler((request) =>
      request.operation === 'transcription' || request.media.some((part) => part.kind === 'audio')
        ? { type: 'reply', text: heard }
        : { type: 'reply', text: `echo: ${request.messages.at(-1)?.content}` },
    );

  beforeAll(async () => {
    [telegram, providers] = await Promise.all([startFakeTelegramServer(), startFakeProviderServer()]);
    bot = await startPollingBot(
      telegram,
      botEnv(telegram, providers, [EARS.name, FALLBACK.name], {
        PROVIDER_ORDER: `${EARS.name},${FALLBACK.name}`,
        [envVar(EARS.name, 'API_KEY')]: keys[0]!,
        [envVar(EARS.name, 'API_KEY_2')]: keys[1]!,
        RATE_LIMIT_PER_MINUTE: '0',
      }),
    );
  });
  afterAll(async () => {
    await bot?.stop();
    await Promise.all([telegram?.stop(), providers?.stop()]);
  });

  it("transcribes a voice note with the provider's speech-to-text model and answers what was said", async () => {
    answering('What is the weather in Tehran?');
    const reply = await ask(telegram, user, '', { send: () => telegram.sendVoice(user, { duration: 4 }) });
    expect(reply.text).toBe('🎤 What is the weather in Tehran?\n\necho: What is the weather in Tehran?');
    const [transcription, chat] = providers.requests;
    expect(transcription).toMatchObject({ dialect: EARS.name, operation: 'transcription', model: EARS_MODEL });
    expect(transcription?.media).toMatchObject([{ kind: 'audio', mimeType: 'audio/ogg', head: OGG_HEAD, valid: true }]);
    // The answer is a text turn: no audio goes to the chat model.
    expect(chat).toMatchObject({ operation: 'chat' });
    expect(chat?.media).toEqual([]);
    expect(providers.requests).toHaveLength(2);
  });

  it('keeps the transcript, not the audio, in history', async () => {
    providers.reset();
    answering('unused');
    await ask(telegram, user, 'and tomorrow?');
    expect(turnsOf(providers.requests[0])).toEqual([
      'user: What is the weather in Tehran?',
      'assistant: echo: What is the weather in Tehran?',
      'user: and tomorrow?',
    ]);
  });

  it('falls back to a chat model that takes audio when the speech-to-text model fails', async () => {
    providers.reset();
    const earsErrors = dialectFor(EARS.name).errors;
    providers.setHandler((request) => {
      if (request.operation === 'transcription') return earsErrors.serverError();
      if (request.media.some((part) => part.kind === 'audio')) return { type: 'reply', text: 'salam, chetori?' };
      return { type: 'reply', text: `echo: ${request.messages.at(-1)?.content}` };
    });
    const reply = await ask(telegram, user, '', { send: () => telegram.sendVoice(user) });
    expect(reply.text).toBe('🎤 salam, chetori?\n\necho: salam, chetori?');
    const [failed, fallback] = providers.requests;
    expect(failed).toMatchObject({ dialect: EARS.name, operation: 'transcription' });
    expect(fallback).toMatchObject({ dialect: FALLBACK.name, operation: 'chat' });
    expect(fallback?.media).toMatchObject([{ kind: 'audio', head: OGG_HEAD }]);
    expect(fallback?.messages.at(-1)?.content).toMatch(/^Transcribe this audio/);
    await bot.waitForLog((record) => record.msg === 'transcribed' && record.fallbacks === 1, 5_000);
  });

  it('rotates the speech-to-text keys: a key that is rate limited cools down and the other one serves', async () => {
    providers.reset();
    const earsErrors = dialectFor(EARS.name).errors;
    let limited = false;
    providers.setHandler((request) => {
      if (request.operation === 'transcription' && !limited) {
        limited = true;
        return earsErrors.rateLimited(30);
      }
      return request.operation === 'transcription'
        ? { type: 'reply', text: 'second key heard this' }
        : { type: 'reply', text: `echo: ${request.messages.at(-1)?.content}` };
    });
    const reply = await ask(telegram, user, '', { send: () => telegram.sendVoice(user) });
    expect(reply.text).toBe('🎤 second key heard this\n\necho: second key heard this');
    const transcriptions = providers.requests.filter((request) => request.operation === 'transcription');
    expect(transcriptions).toHaveLength(2);
    expect(new Set(transcriptions.map((request) => request.apiKey))).toEqual(new Set(keys));
  });

  it('quotes a long transcript short and escapes its Markdown, answering the whole of it', async () => {
    providers.reset();
    const long = `*not bold* ${'word '.repeat(150)}end`;
    answering(long);
    const reply = await ask(telegram, user, '', { send: () => telegram.sendVoice(user, { duration: 60 }) });
    const [quote] = reply.text.split('\n\n');
    expect(quote?.startsWith('🎤 *not bold* word')).toBe(true);
    expect(quote?.endsWith('…')).toBe(true);
    expect(quote!.length).toBeLessThan(420);
    // The model was asked the whole transcript (its answer is rendered as Markdown, as any answer).
    const chat = providers.requests.find((request) => request.operation === 'chat' && request.media.length === 0);
    expect(chat?.messages.at(-1)?.content).toBe(long);
    expect(reply.text.endsWith('word end')).toBe(true);
  });

  it('says so when nothing was heard, without asking for an answer', async () => {
    providers.reset();
    answering('   ');
    const reply = await ask(telegram, user, '', { send: () => telegram.sendVoice(user) });
    expect(reply.text).toBe(
      "I couldn't make out any words in that recording. Please try again, or write your question.",
    );
    expect(
      providers.requests.every((request) => request.operation === 'transcription' || request.media.length > 0),
    ).toBe(true);
  });

  it('refuses a voice note over 20 MB without downloading it', async () => {
    providers.reset();
    const reply = await ask(telegram, user, '', {
      send: () => telegram.sendVoice(user, { fileSize: 21 * 1024 * 1024 }),
    });
    expect(reply.text).toMatch(/^That file is too large for me: .* this one is 21 MB\.$/);
    expect(providers.requests).toEqual([]);
  });

  it('crashed nowhere and leaked nothing', () => {
    expect(crashRecords(bot)).toEqual([]);
    expect(suspiciousTexts(telegram)).toEqual([]);
    const leaked = bot.lines.filter((line) => keys.some((key) => line.includes(key)) || line.includes('/file/bot'));
    expect(leaked).toEqual([]);
  });
});

describe('voice notes with no model that transcribes', () => {
  let telegram: FakeTelegramServer;
  let providers: FakeProviderServer;
  let bot: BotProcess;
  const user = { id: 9401, first_name: 'Deaf', language_code: 'fa' };

  beforeAll(async () => {
    [telegram, providers] = await Promise.all([startFakeTelegramServer(), startFakeProviderServer()]);
    bot = await startPollingBot(telegram, botEnv(telegram, providers, [DEAF.name]));
  });
  afterAll(async () => {
    await bot?.stop();
    await Promise.all([telegram?.stop(), providers?.stop()]);
  });

  it('says no model here reads voice notes, in the user language, asking nobody', async () => {
    const reply = await ask(telegram, user, '', { send: () => telegram.sendVoice(user) });
    expect(reply.text).toBe(
      'هیچ‌کدام از مدل‌های هوش مصنوعی این ربات هنوز این نوع پیام را نمی‌توانند بخوانند. لطفاً آن را به صورت متن بفرست.',
    );
    expect(telegram.callsTo('getFile')).toEqual([]);
    expect(providers.requests).toEqual([]);
  });
});
