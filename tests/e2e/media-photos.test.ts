import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { resolveModels } from '../../providers/router/capabilities';
import { PROVIDERS } from '../../providers/registry';
import type { ProviderDescriptor } from '../../providers/types';
import { type FakeProviderServer, startFakeProviderServer } from '../fakes/provider-server';
import { type FakeTelegramServer, startFakeTelegramServer } from '../fakes/telegram-server';
import {
  answered,
  ask,
  botEnv,
  crashRecords,
  pressButton,
  startPollingBot,
  suspiciousTexts,
  turnsOf,
} from '../helpers/bot-harness';
import type { BotProcess } from '../helpers/bot-process';

/**
 * Photos and image documents through the built bot: a photo skips the providers whose models take
 * text only and is answered by a vision model with the conversation's history; history keeps a
 * text stand-in, so the next text turn (on a text-only model) still knows about the photo. Files
 * the bot cannot take get one clear message, and nothing is sent to a provider for them.
 * Providers are chosen by their declared capabilities, never by name.
 */

const takesImages = (descriptor: ProviderDescriptor): boolean => {
  const { capabilities, extraModels } = resolveModels(descriptor, {
    model: descriptor.defaultModel,
    limits: descriptor.defaultLimits,
  });
  return [capabilities, ...extraModels].some((model) => model.inputs.includes('image'));
};

const TEXT_ONLY = PROVIDERS.find((descriptor) => !takesImages(descriptor));
const VISION = PROVIDERS.find(takesImages);
if (TEXT_ONLY === undefined || VISION === undefined) {
  throw new Error('the media suites need a provider without vision and one with it in the registry');
}
const JPEG_HEAD = 'ffd8ffe0';
const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');

describe('photos', () => {
  let telegram: FakeTelegramServer;
  let providers: FakeProviderServer;
  let bot: BotProcess;
  const user = { id: 9101, first_name: 'Pic', language_code: 'en' };

  beforeAll(async () => {
    [telegram, providers] = await Promise.all([startFakeTelegramServer(), startFakeProviderServer()]);
    bot = await startPollingBot(
      telegram,
      // The text-only provider first: a photo must skip it.
      botEnv(telegram, providers, [TEXT_ONLY.name, VISION.name], {
        PROVIDER_ORDER: `${TEXT_ONLY.name},${VISION.name}`,
        RATE_LIMIT_PER_MINUTE: '0',
      }),
    );
  });
  afterAll(async () => {
    await bot?.stop();
    await Promise.all([telegram?.stop(), providers?.stop()]);
  });

  it('answers a captioned photo from a vision model, past the text-only provider', async () => {
    providers.setHandler((request) => ({
      type: 'reply',
      text: request.media.length > 0 ? `I see ${request.media[0]?.kind}: ${request.messages.at(-1)?.content}` : 'text',
    }));
    const reply = await ask(telegram, user, '', { send: () => telegram.sendPhoto(user, { caption: 'what is this?' }) });
    expect(reply.text).toBe('I see image: what is this?');
    expect(providers.requestsFor(TEXT_ONLY.name)).toEqual([]);
    const [request] = providers.requestsFor(VISION.name);
    expect(request?.media).toMatchObject([{ kind: 'image', mimeType: 'image/jpeg', head: JPEG_HEAD, valid: true }]);
    // The largest size of the photo was fetched, once, through getFile and the file path.
    expect(telegram.callsTo('getFile')).toHaveLength(1);
    expect(telegram.downloads).toHaveLength(1);
  });

  it('sends a follow-up about the picture to a vision model with the photo fetched again; history keeps text', async () => {
    providers.setHandler((request) => ({
      type: 'reply',
      text: `${request.media.length > 0 ? 'seen' : 'echo'}: ${request.messages.at(-1)?.content}`,
    }));
    const downloads = telegram.downloads.length;
    const reply = await ask(telegram, user, 'what colour is the car in it?');
    expect(reply.text).toBe('seen: what colour is the car in it?');
    expect(providers.requestsFor(TEXT_ONLY.name)).toEqual([]);
    const request = providers.requestsFor(VISION.name).at(-1);
    expect(request?.media).toMatchObject([{ kind: 'image', mimeType: 'image/jpeg', head: JPEG_HEAD, valid: true }]);
    expect(turnsOf(request)).toEqual([
      'user: [photo] what is this?',
      'assistant: I see image: what is this?',
      'user: what colour is the car in it?',
    ]);
    // The photo's own file id, fetched again through getFile.
    const photoFile = telegram.callsTo('getFile')[0]?.params.file_id;
    expect(telegram.callsTo('getFile').at(-1)?.params.file_id).toBe(photoFile);
    expect(telegram.downloads.length).toBe(downloads + 1);
  });

  it('regenerates an answer to a photo with the photo again, fetched anew, on a vision model', async () => {
    providers.reset();
    providers.setHandler((request) => ({
      type: 'reply',
      text: `${request.media.length > 0 ? 'seen' : 'blind'} #${request.index + 1}: ${request.messages.at(-1)?.content}`,
    }));
    const owner = { id: 9104, first_name: 'Again', language_code: 'en' };
    const first = await ask(telegram, owner, '', { send: () => telegram.sendPhoto(owner, { caption: 'which bird?' }) });
    expect(first.text).toBe('seen #1: which bird?');
    const getFiles = telegram.callsTo('getFile').length;
    const again = await pressButton(telegram, owner, first, '🔄 Regenerate');
    expect(again.text).toBe('seen #2: which bird?');
    // Asked with the image (not the stand-in), and past the text-only provider.
    const regenerated = providers.requests.at(-1);
    expect(regenerated?.dialect).toBe(VISION.name);
    expect(regenerated?.media).toMatchObject([{ kind: 'image', mimeType: 'image/jpeg', head: JPEG_HEAD, valid: true }]);
    expect(turnsOf(regenerated)).toEqual(['user: which bird?']);
    expect(providers.requestsFor(TEXT_ONLY.name)).toEqual([]);
    expect(telegram.callsTo('getFile').length).toBe(getFiles + 1);
    // The regenerated answer took the first one's place in history, after the photo's stand-in.
    await ask(telegram, owner, 'thanks');
    expect(turnsOf(providers.requests.at(-1)).slice(0, 2)).toEqual([
      'user: [photo] which bird?',
      'assistant: seen #2: which bird?',
    ]);
  });

  it('regenerates a follow-up about the picture with the photo again', async () => {
    providers.reset();
    providers.setHandler((request) => ({
      type: 'reply',
      text: `${request.media.length > 0 ? 'seen' : 'blind'} #${request.index + 1}: ${request.messages.at(-1)?.content}`,
    }));
    const owner = { id: 9105, first_name: 'Follow', language_code: 'fa' };
    await ask(telegram, owner, '', { send: () => telegram.sendPhoto(owner, { caption: 'این چیست؟' }) });
    const followUp = await ask(telegram, owner, 'رنگش چیست؟');
    expect(followUp.text).toBe('seen #2: رنگش چیست؟');
    const again = await pressButton(telegram, owner, followUp, '🔄 پاسخ دوباره');
    expect(again.text).toBe('seen #3: رنگش چیست؟');
    const regenerated = providers.requests.at(-1);
    expect(regenerated?.media).toMatchObject([{ kind: 'image', head: JPEG_HEAD, valid: true }]);
    expect(turnsOf(regenerated)).toEqual([
      'user: [photo] این چیست؟',
      'assistant: seen #1: این چیست؟',
      'user: رنگش چیست؟',
    ]);
  });

  it('answers the follow-up from the stand-in, on any model, when the photo can no longer be fetched', async () => {
    providers.reset();
    providers.setHandler((request) => ({
      type: 'reply',
      text: `${request.media.length > 0 ? 'seen' : 'echo'}: ${request.messages.at(-1)?.content}`,
    }));
    const persian = { id: 9103, first_name: 'عکس', language_code: 'fa' };
    await ask(telegram, persian, '', { send: () => telegram.sendPhoto(persian, { caption: 'این ماشین چیست؟' }) });
    telegram.failNext('getFile', {
      error_code: 400,
      description: 'Bad Request: wrong file_id or the file is temporarily unavailable',
    });
    const reply = await ask(telegram, persian, 'رنگ ماشین چیست؟');
    expect(reply.text).toBe('echo: رنگ ماشین چیست؟');
    const [request] = providers.requestsFor(TEXT_ONLY.name);
    expect(request?.media).toEqual([]);
    expect(turnsOf(request)).toEqual([
      'user: [photo] این ماشین چیست؟',
      'assistant: seen: این ماشین چیست؟',
      'user: رنگ ماشین چیست؟',
    ]);
    // Two exchanges later the photo is no longer "the picture": a text turn stays text.
    await ask(telegram, persian, 'سلام');
    const before = telegram.callsTo('getFile').length;
    const later = await ask(telegram, persian, 'خداحافظ');
    expect(later.text).toBe('echo: خداحافظ');
    expect(telegram.callsTo('getFile').length).toBe(before);
  });

  it('answers a photo without a caption, and an image sent as a file', async () => {
    providers.reset();
    const uncaptioned = await ask(telegram, user, '', { send: () => telegram.sendPhoto(user) });
    expect(uncaptioned.text).toBe('echo: (The user sent this photo without a caption.)');
    const document = await ask(telegram, user, '', {
      send: () =>
        telegram.sendDocument(user, { fileName: 'chart.png', mimeType: 'image/png', content: PNG, caption: 'explain' }),
    });
    expect(document.text).toBe('echo: explain');
    const requests = providers.requestsFor(VISION.name);
    expect(requests.map((request) => request.media[0]?.mimeType)).toEqual(['image/jpeg', 'image/png']);
    expect(requests[1]?.media[0]?.head).toBe('89504e47');
    expect(providers.requestsFor(TEXT_ONLY.name)).toEqual([]);
  });

  it('says a file over 20 MB is too large, in the user language, without downloading it', async () => {
    const since = telegram.mark();
    const persian = { id: 9102, first_name: 'Pic', language_code: 'fa' };
    providers.reset();
    const english = await ask(telegram, user, '', {
      send: () => telegram.sendPhoto(user, { fileSize: 25 * 1024 * 1024 }),
    });
    expect(english.text).toBe(
      'That file is too large for me: Telegram lets bots download at most 20 MB, and this one is 25 MB.',
    );
    const farsi = await ask(telegram, persian, '', {
      send: () => telegram.sendDocument(persian, { mimeType: 'image/jpeg', fileSize: 30 * 1024 * 1024 }),
    });
    expect(farsi.text).toContain('۲۰ مگابایت');
    expect(telegram.calls.slice(since).filter((call) => call.method === 'getFile')).toEqual([]);
    expect(providers.requests).toEqual([]);
  });

  it('says so when Telegram refuses a file as too big, or the download fails, and stores nothing', async () => {
    providers.reset();
    // A file whose size the message does not say: Telegram's getFile refuses it.
    telegram.failNext('getFile', { error_code: 400, description: 'Bad Request: file is too big' });
    expect((await ask(telegram, user, '', { send: () => telegram.sendPhoto(user) })).text).toMatch(
      /^That file is too large for me/,
    );
    telegram.failDownloads(1);
    expect((await ask(telegram, user, '', { send: () => telegram.sendPhoto(user) })).text).toBe(
      "I couldn't download your file from Telegram. Please send it again.",
    );
    expect(providers.requests).toEqual([]);
    // Nothing half-stored: the next text turn's history holds the three photos answered above, not these.
    await ask(telegram, user, 'still here?');
    expect(turnsOf(providers.requests.at(-1)).filter((turn) => turn.startsWith('user: [photo]')).length).toBe(3);
  });

  it('says which files it reads when sent one it cannot', async () => {
    providers.reset();
    const reply = await ask(telegram, user, '', {
      send: () => telegram.sendDocument(user, { fileName: 'archive.zip', mimeType: 'application/zip' }),
    });
    expect(reply.text).toBe(
      'I can read photos, images, voice notes, audio, PDFs and text files, but not this kind of file.',
    );
    expect(providers.requests).toEqual([]);
  });

  it('in a group, answers a photo only when its caption mentions the bot or it replies to the bot', async () => {
    providers.reset();
    const group = { id: -1009100000001, title: 'Photo club' };
    const ignored = telegram.sendPhoto(user, { chat: group, caption: 'look at my cat' });
    const mentioned = telegram.sendPhoto(user, { chat: group, caption: '@switchboard_test_bot what breed?' });
    await answered(bot, mentioned);
    const answer = telegram
      .messagesIn(group.id)
      .find((message) => message.replyToMessageId === mentioned.message?.message_id);
    expect(answer?.text).toBe('echo: what breed?');
    const replying = telegram.sendPhoto(user, { chat: group, reply_to_message: answer! });
    await answered(bot, replying);
    // One chat is handled in order: the photo that did not address the bot was passed over.
    expect(providers.requests).toHaveLength(2);
    expect(
      telegram.messagesIn(group.id).some((message) => message.replyToMessageId === ignored.message?.message_id),
    ).toBe(false);
    const ignoredFile = ignored.message?.photo?.at(-1)?.file_id;
    expect(telegram.callsTo('getFile').filter((call) => call.params.file_id === ignoredFile)).toEqual([]);
  });

  it('crashed nowhere and leaked nothing', () => {
    expect(crashRecords(bot)).toEqual([]);
    expect(suspiciousTexts(telegram)).toEqual([]);
  });
});

describe('photos with no vision model configured', () => {
  let telegram: FakeTelegramServer;
  let providers: FakeProviderServer;
  let bot: BotProcess;
  const user = { id: 9201, first_name: 'Blind', language_code: 'en' };

  beforeAll(async () => {
    [telegram, providers] = await Promise.all([startFakeTelegramServer(), startFakeProviderServer()]);
    bot = await startPollingBot(telegram, botEnv(telegram, providers, [TEXT_ONLY.name]));
  });
  afterAll(async () => {
    await bot?.stop();
    await Promise.all([telegram?.stop(), providers?.stop()]);
  });

  it('says no model here reads photos, without downloading the photo or asking a provider', async () => {
    const reply = await ask(telegram, user, '', { send: () => telegram.sendPhoto(user, { caption: 'look' }) });
    expect(reply.text).toBe(
      'None of the AI models set up here can read this kind of message yet. Please send it as text.',
    );
    expect(telegram.callsTo('getFile')).toEqual([]);
    expect(providers.requests).toEqual([]);
  });
});
