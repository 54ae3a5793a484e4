import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { resolveModels } from '../../providers/router/capabilities';
import { PROVIDERS } from '../../providers/registry';
import type { ModelCapabilities, ProviderDescriptor } from '../../providers/types';
import { type FakeProviderServer, type RecordedRequest, startFakeProviderServer } from '../fakes/provider-server';
import { fakeTranslator, translationRequest } from '../fakes/provider-server/translator';
import { type FakeTelegramServer, startFakeTelegramServer } from '../fakes/telegram-server';
import { SAMPLE_OGG } from '../fakes/telegram-server/incoming';
import type { Update } from 'grammy/types';
import { ask, botEnv, crashRecords, PROVIDER_NAMES, startPollingBot, suspiciousTexts } from '../helpers/bot-harness';
import type { BotProcess } from '../helpers/bot-process';

/**
 * `/translate` on a replied-to voice note (its transcript, transcribed through the pool) and on a
 * replied-to photo (its caption, or the text in the image read by a vision model), through the
 * built bot; the translation itself keeps the wire format of docs/architecture.md. Providers are
 * chosen by their declared capabilities, never by name.
 */

const modelsOf = (descriptor: ProviderDescriptor) =>
  resolveModels(descriptor, { model: descriptor.defaultModel, limits: descriptor.defaultLimits });
const everyModel = (descriptor: ProviderDescriptor): ModelCapabilities[] => {
  const { capabilities, extraModels } = modelsOf(descriptor);
  return [capabilities, ...extraModels];
};
const TEXT_ONLY = PROVIDERS.find((descriptor) =>
  everyModel(descriptor).every((model) => model.inputs.every((input) => input === 'text')),
);
if (TEXT_ONLY === undefined) throw new Error('the suite needs a provider whose models take text only');

describe('/translate on a voice note or a photo', () => {
  let telegram: FakeTelegramServer;
  let providers: FakeProviderServer;
  let bot: BotProcess;
  const user = { id: 9501, first_name: 'Tara', language_code: 'fa' };

  /** Transcriptions answer `heard`, image requests `written`, the rest speak the translation format. */
  const answering = (heard: string, written: string) => {
    const translator = fakeTranslator();
    providers.setHandler((request) => {
      if (request.operation === 'transcription' || request.media.some((part) => part.kind === 'audio')) {
        return { type: 'reply', text: heard };
      }
      if (request.media.some((part) => part.kind === 'image')) return { type: 'reply', text: written };
      return translator(request);
    });
  };
  const translationRequests = (): RecordedRequest[] =>
    providers.requests.filter((request) => translationRequest(request) !== undefined);

  beforeAll(async () => {
    [telegram, providers] = await Promise.all([startFakeTelegramServer(), startFakeProviderServer()]);
    bot = await startPollingBot(
      telegram,
      botEnv(telegram, providers, PROVIDER_NAMES, {
        // The text-only provider first: reading media must skip it.
        PROVIDER_ORDER: [TEXT_ONLY.name, ...PROVIDER_NAMES.filter((name) => name !== TEXT_ONLY.name)].join(','),
        RATE_LIMIT_PER_MINUTE: '0',
      }),
    );
  });
  afterAll(async () => {
    await bot?.stop();
    await Promise.all([telegram?.stop(), providers?.stop()]);
  });
  beforeEach(() => providers.reset());

  /** A user message answered once by the bot, then forgotten by the providers' log. */
  const sent = async (send: () => Update): Promise<Update> => {
    let update: Update | undefined;
    await ask(telegram, user, '', {
      send: () => {
        update = send();
      },
    });
    providers.reset();
    return update!;
  };
  const refOf = (update: Update) => ({ chat: update.message!.chat, message_id: update.message!.message_id });

  it('translates the transcript of a replied-to voice note, line by line, in Persian', async () => {
    answering('Good morning\nHow are you?', 'unused');
    const voice = await sent(() => telegram.sendVoice(user, { duration: 5 }));
    answering('Good morning\nHow are you?', 'unused');
    const reply = await ask(telegram, user, '', {
      send: () => telegram.sendText(user, '/translate فارسی', { reply_to_message: refOf(voice) }),
    });
    expect(reply.text).toBe('فارسی:Good morning\nفارسی:How are you?');
    const [transcription] = providers.requests;
    expect(transcription?.operation).toBe('transcription');
    expect(transcription?.media).toMatchObject([{ kind: 'audio', mimeType: 'audio/ogg', valid: true }]);
    const translations = translationRequests();
    expect(translations).toHaveLength(1);
    expect(translationRequest(translations[0]!)).toEqual({ target: 'فارسی', texts: ['Good morning', 'How are you?'] });
    expect(Object.keys(JSON.parse(translations[0]!.messages.at(-1)!.content))).toEqual(['target', 'texts']);
  });

  it('translates the transcript of a replied-to video note (its MP4 sent to the transcription model)', async () => {
    answering('See you soon', 'unused');
    const note = await sent(() => telegram.sendVideoNote(user, { duration: 4 }));
    answering('See you soon', 'unused');
    const reply = await ask(telegram, user, '', {
      send: () => telegram.sendText(user, '/translate fa', { reply_to_message: refOf(note) }),
    });
    expect(reply.text).toBe('fa:See you soon');
    expect(providers.requests[0]?.media).toMatchObject([{ kind: 'audio', mimeType: 'video/mp4', valid: true }]);
  });

  it('translates the transcript of a replied-to audio file sent as a document, as chat reads one', async () => {
    answering('Meeting at ۵ pm', 'unused');
    const memo = await sent(() =>
      telegram.sendDocument(user, { fileName: 'memo.ogg', mimeType: 'audio/ogg', content: SAMPLE_OGG }),
    );
    answering('Meeting at ۵ pm', 'unused');
    const reply = await ask(telegram, user, '', {
      send: () => telegram.sendText(user, '/translate fa', { reply_to_message: refOf(memo) }),
    });
    expect(reply.text).toBe('fa:Meeting at ۵ pm');
    expect(providers.requests[0]?.operation).toBe('transcription');
    expect(providers.requests[0]?.media).toMatchObject([{ kind: 'audio', mimeType: 'audio/ogg', valid: true }]);
  });

  it('translates the caption of a replied-to photo, without reading the image', async () => {
    answering('unused', 'unused');
    const photo = await sent(() => telegram.sendPhoto(user, { caption: 'سلام دنیا' }));
    answering('unused', 'unused');
    const reply = await ask(telegram, user, '', {
      send: () => telegram.sendText(user, '/translate en', { reply_to_message: refOf(photo) }),
    });
    expect(reply.text).toBe('en:سلام دنیا');
    expect(providers.requests.every((request) => request.media.length === 0)).toBe(true);
  });

  it('translates the text in a replied-to photo without a caption, read by a vision model', async () => {
    answering('unused', 'unused');
    const photo = await sent(() => telegram.sendPhoto(user));
    answering('unused', 'خروج اضطراری\nفقط کارکنان');
    const downloads = telegram.downloads.length;
    const reply = await ask(telegram, user, '', {
      send: () => telegram.sendText(user, '/translate en', { reply_to_message: refOf(photo) }),
    });
    expect(reply.text).toBe('en:خروج اضطراری\nen:فقط کارکنان');
    const reading = providers.requests.find((request) => request.media.length > 0);
    expect(reading?.dialect).not.toBe(TEXT_ONLY.name);
    expect(reading?.media).toMatchObject([{ kind: 'image', mimeType: 'image/jpeg', valid: true }]);
    expect(translationRequest(translationRequests()[0]!)?.texts).toEqual(['خروج اضطراری', 'فقط کارکنان']);
    expect(telegram.downloads.length).toBe(downloads + 1);
  });

  it('says so, in the user language, when the image has no text or the voice note no words', async () => {
    answering('unused', 'unused');
    const photo = await sent(() => telegram.sendPhoto(user));
    answering('', '');
    const noText = await ask(telegram, user, '', {
      send: () => telegram.sendText(user, '/translate en', { reply_to_message: refOf(photo) }),
    });
    expect(noText.text).toBe('در این تصویر متنی برای ترجمه پیدا نکردم.');
    answering('a word', 'unused');
    const voice = await sent(() => telegram.sendVoice(user));
    answering('', '');
    const silent = await ask(telegram, user, '', {
      send: () => telegram.sendText(user, '/translate en', { reply_to_message: refOf(voice) }),
    });
    expect(silent.text).toBe('در این صدا حرفی تشخیص ندادم. لطفاً دوباره امتحان کن یا سؤالت را بنویس.');
    expect(translationRequests()).toEqual([]);
  });

  it('says so when the replied-to file can no longer be downloaded, and translates nothing', async () => {
    answering('words', 'unused');
    const voice = await sent(() => telegram.sendVoice(user));
    telegram.failDownloads(1);
    const reply = await ask(telegram, user, '', {
      send: () => telegram.sendText(user, '/translate en', { reply_to_message: refOf(voice) }),
    });
    expect(reply.text).toBe('نتوانستم فایلت را از تلگرام دریافت کنم. لطفاً دوباره بفرست.');
    expect(providers.requests).toEqual([]);
  });

  it('crashed nowhere and leaked nothing', () => {
    expect(crashRecords(bot)).toEqual([]);
    expect(suspiciousTexts(telegram)).toEqual([]);
  });
});
