import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { resolveModels } from '../../providers/router/capabilities';
import { PROVIDERS } from '../../providers/registry';
import type { ModelCapabilities, ProviderDescriptor } from '../../providers/types';
import { dialectFor, type FakeProviderServer, startFakeProviderServer } from '../fakes/provider-server';
import { type FakeTelegramServer, startFakeTelegramServer } from '../fakes/telegram-server';
import { ask, botEnv, crashRecords, startPollingBot, suspiciousTexts, turnsOf } from '../helpers/bot-harness';
import type { BotProcess } from '../helpers/bot-process';

/**
 * Video notes and videos through the built bot: their sound is transcribed like a voice note (the
 * MP4 container goes as it is: the transcription endpoints take it), with the chat model that takes
 * audio as the fallback, then answered as a chat turn. A video in a container no endpoint takes
 * gets one clear message. Providers are chosen by their declared capabilities, never by name.
 */

const modelsOf = (descriptor: ProviderDescriptor) =>
  resolveModels(descriptor, { model: descriptor.defaultModel, limits: descriptor.defaultLimits });
const transcribes = (model: ModelCapabilities) => model.operations.includes('transcription');
const EARS = PROVIDERS.find((descriptor) => modelsOf(descriptor).extraModels.some(transcribes));
const FALLBACK = PROVIDERS.find((descriptor) => descriptor !== EARS && transcribes(modelsOf(descriptor).capabilities));
if (EARS === undefined || FALLBACK === undefined) {
  throw new Error('the video suite needs a provider with a transcription model and one whose chat model transcribes');
}
const MP4_HEAD = '00000018';

describe('video notes and videos', () => {
  let telegram: FakeTelegramServer;
  let providers: FakeProviderServer;
  let bot: BotProcess;
  const user = { id: 9701, first_name: 'ویدیو', language_code: 'fa' };

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
        RATE_LIMIT_PER_MINUTE: '0',
      }),
    );
  });
  afterAll(async () => {
    await bot?.stop();
    await Promise.all([telegram?.stop(), providers?.stop()]);
  });

  it('transcribes a video note with the speech-to-text model, sending the MP4 as it is, and answers it', async () => {
    providers.reset();
    answering('فردا هوا چطور است؟');
    const reply = await ask(telegram, user, '', { send: () => telegram.sendVideoNote(user, { duration: 6 }) });
    expect(reply.text).toBe('🎤 فردا هوا چطور است؟\n\necho: فردا هوا چطور است؟');
    const [transcription, chat] = providers.requests;
    expect(transcription).toMatchObject({ dialect: EARS.name, operation: 'transcription' });
    expect(transcription?.media).toMatchObject([{ kind: 'audio', mimeType: 'video/mp4', head: MP4_HEAD, valid: true }]);
    expect(chat?.media).toEqual([]);
    // History keeps the transcript.
    providers.reset();
    await ask(telegram, user, 'و پس‌فردا؟');
    expect(turnsOf(providers.requests[0])).toEqual([
      'user: فردا هوا چطور است؟',
      'assistant: echo: فردا هوا چطور است؟',
      'user: و پس‌فردا؟',
    ]);
  });

  it('falls back to the chat model that takes audio, with the MP4 inline, when speech-to-text fails', async () => {
    providers.reset();
    const earsErrors = dialectFor(EARS.name).errors;
    providers.setHandler((request) => {
      if (request.operation === 'transcription') return earsErrors.serverError();
      if (request.media.some((part) => part.kind === 'audio')) return { type: 'reply', text: 'heard by fallback' };
      return { type: 'reply', text: `echo: ${request.messages.at(-1)?.content}` };
    });
    const reply = await ask(telegram, user, '', { send: () => telegram.sendVideoNote(user) });
    expect(reply.text).toBe('🎤 heard by fallback\n\necho: heard by fallback');
    const fallback = providers.requests.find((request) => request.dialect === FALLBACK.name);
    expect(fallback?.media).toMatchObject([{ kind: 'audio', mimeType: 'video/mp4', head: MP4_HEAD, valid: true }]);
  });

  it('transcribes an MP4 video with its caption, and says when a video has no words', async () => {
    providers.reset();
    answering('the sound of the video');
    const reply = await ask(telegram, user, '', {
      send: () => telegram.sendVideo(user, { caption: 'خلاصه کن', duration: 12 }),
    });
    expect(reply.text).toBe('🎤 the sound of the video\n\necho: خلاصه کن\n\nthe sound of the video');
    const upload = providers.requests.find((request) => request.operation === 'transcription');
    expect(upload?.media).toMatchObject([{ kind: 'audio', mimeType: 'video/mp4', head: MP4_HEAD }]);
    answering('  ');
    const silent = await ask(telegram, user, '', { send: () => telegram.sendVideo(user) });
    expect(silent.text).toBe('در این صدا حرفی تشخیص ندادم. لطفاً دوباره امتحان کن یا سؤالت را بنویس.');
  });

  it('says which videos it can hear when sent one in another container, downloading nothing', async () => {
    providers.reset();
    const getFiles = telegram.callsTo('getFile').length;
    const reply = await ask(telegram, user, '', {
      send: () => telegram.sendVideo(user, { mimeType: 'video/quicktime' }),
    });
    expect(reply.text).toBe(
      'من فقط صدای ویدیوهای MP4، MPEG یا WebM را می‌شنوم و این ویدیو قالب دیگری دارد. لطفاً آن را به صورت MP4 یا پیام صوتی بفرست.',
    );
    expect(telegram.callsTo('getFile')).toHaveLength(getFiles);
    expect(providers.requests).toEqual([]);
  });

  it('refuses a video over 20 MB without downloading it', async () => {
    providers.reset();
    const reply = await ask(telegram, user, '', {
      send: () => telegram.sendVideo(user, { fileSize: 45 * 1024 * 1024 }),
    });
    expect(reply.text).toContain('۲۰ مگابایت');
    expect(providers.requests).toEqual([]);
  });

  it('crashed nowhere and leaked nothing', () => {
    expect(crashRecords(bot)).toEqual([]);
    expect(suspiciousTexts(telegram)).toEqual([]);
  });
});
