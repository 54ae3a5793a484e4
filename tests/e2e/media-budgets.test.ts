import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { resolveModels } from '../../providers/router/capabilities';
import { PROVIDERS } from '../../providers/registry';
import type { ProviderDescriptor } from '../../providers/types';
import { type FakeProviderServer, startFakeProviderServer } from '../fakes/provider-server';
import { type FakeTelegramServer, startFakeTelegramServer } from '../fakes/telegram-server';
import {
  ask,
  botEnv,
  crashRecords,
  type RedisBotWorld,
  startPollingBot,
  startRedisBotWorld,
  suspiciousTexts,
} from '../helpers/bot-harness';
import type { BotProcess } from '../helpers/bot-process';

/**
 * Per-user daily media budgets through the built bot (USER_DAILY_MEDIA_LIMIT, USER_DAILY_AUDIO_SECONDS):
 * each photo, recording or file reserves one media request, a recording its seconds of audio; past
 * a budget the user is told, in their language, and nothing is downloaded or sent, while text is
 * still answered. What was reserved for a file that was never sent (not text, too long for the
 * audio left) is given back. Admins are exempt. With Redis the counts live in the shared store.
 * Providers are chosen by capability, never by name.
 */

const modelsOf = (descriptor: ProviderDescriptor) => {
  const { capabilities, extraModels } = resolveModels(descriptor, {
    model: descriptor.defaultModel,
    limits: descriptor.defaultLimits,
  });
  return [capabilities, ...extraModels];
};
/** A provider with a model that sees images and one that transcribes. */
const MEDIA = PROVIDERS.find(
  (descriptor) =>
    modelsOf(descriptor).some((model) => model.inputs.includes('image')) &&
    modelsOf(descriptor).some((model) => model.operations.includes('transcription')),
);
if (MEDIA === undefined) throw new Error('the budget suite needs a provider that sees images and transcribes');

const HOURS = /in about \d+ h\.$/;

/** Transcriptions hear "hello there"; chat turns echo their last message. */
function answering(providers: FakeProviderServer): void {
  providers.setHandler((request) =>
    request.operation === 'transcription' || request.media.some((part) => part.kind === 'audio')
      ? { type: 'reply', text: 'hello there' }
      : { type: 'reply', text: `echo: ${request.messages.at(-1)?.content}` },
  );
}

describe('daily media budgets', () => {
  let telegram: FakeTelegramServer;
  let providers: FakeProviderServer;
  let bot: BotProcess;
  const admin = { id: 9701, first_name: 'Boss', language_code: 'en' };

  beforeAll(async () => {
    [telegram, providers] = await Promise.all([startFakeTelegramServer(), startFakeProviderServer()]);
    bot = await startPollingBot(
      telegram,
      botEnv(telegram, providers, [MEDIA.name], {
        RATE_LIMIT_PER_MINUTE: '0',
        STREAM_REPLIES: 'false',
        USER_DAILY_MEDIA_LIMIT: '2',
        USER_DAILY_AUDIO_SECONDS: '10',
        ADMIN_IDS: String(admin.id),
      }),
    );
    answering(providers);
  });
  afterAll(async () => {
    await bot?.stop();
    await Promise.all([telegram?.stop(), providers?.stop()]);
  });

  it('answers USER_DAILY_MEDIA_LIMIT files a day, then says so without downloading, and still answers text', async () => {
    const user = { id: 9702, first_name: 'Pics', language_code: 'en' };
    // A "text" file that is not text was never sent: it gives its reservation back.
    const binary = await ask(telegram, user, '', {
      send: () => telegram.sendDocument(user, { fileName: 'notes.txt', content: Buffer.from([0x50, 0x4b, 3, 4, 0]) }),
    });
    expect(binary.text).toMatch(/^That file doesn't look like text I can read\./);
    for (const caption of ['first', 'second']) {
      const reply = await ask(telegram, user, '', { send: () => telegram.sendPhoto(user, { caption }) });
      expect(reply.text).toBe(`echo: ${caption}`);
    }
    const getFiles = telegram.callsTo('getFile').length;
    const requests = providers.requests.length;
    const refused = await ask(telegram, user, '', { send: () => telegram.sendPhoto(user, { caption: 'third' }) });
    expect(refused.text).toMatch(
      /^You've sent today's 2 photos, voice notes and files, the most I take in a day\. I still answer text; send media again in about \d+ h\.$/,
    );
    expect(telegram.callsTo('getFile').length).toBe(getFiles);
    expect(providers.requests.length).toBe(requests);
    expect((await ask(telegram, user, 'text is fine?')).text).toBe('echo: text is fine?');
    const usage = await ask(telegram, user, '/usage');
    expect(usage.text).toContain('Photos, voice notes and files today: 2 of 2.');
    expect(usage.text).toContain('Listening today: 0 s of 10 s.');
  });

  it("reserves a recording's seconds, and refuses one longer than what is left, in Persian, giving the request back", async () => {
    const user = { id: 9703, first_name: 'صدا', language_code: 'fa' };
    const heard = await ask(telegram, user, '', { send: () => telegram.sendVoice(user, { duration: 6 }) });
    expect(heard.text).toContain('hello there');
    const requests = providers.requests.length;
    const refused = await ask(telegram, user, '', { send: () => telegram.sendVoice(user, { duration: 6 }) });
    expect(refused.text.startsWith('این صدا ۶ ثانیه است و از ۱۰ ثانیه شنیدن امروزت فقط ۴ ثانیه مانده است.')).toBe(true);
    expect(refused.text).toMatch(/حدود [۰-۹]+ ساعت دیگر از نو شروع می‌شود\.$/);
    expect(providers.requests.length).toBe(requests);
    // The refused recording took no media request: a photo still goes.
    expect((await ask(telegram, user, '', { send: () => telegram.sendPhoto(user, { caption: 'عکس' }) })).text).toBe(
      'echo: عکس',
    );
    const usage = await ask(telegram, user, '/usage');
    expect(usage.text).toContain('عکس، پیام صوتی و فایل امروز: ۲ از ۲.');
    expect(usage.text).toContain('شنیدن امروز: ۶ ثانیه از ۱۰ ثانیه.');
  });

  it('counts /translate on a voice note, and exempts admins', async () => {
    const user = { id: 9704, first_name: 'Words', language_code: 'en' };
    const voice = telegram.sendVoice(user, { duration: 8 });
    await telegram.waitForMessage(user.id, (message) => message.text.includes('hello there'));
    const since = telegram.mark();
    telegram.sendText(user, '/translate fa', { reply_to_message: voice.message });
    const refused = await telegram.waitForMessage(user.id, (message) => message.fromBot, { since });
    expect(refused.text).toMatch(/^That recording is 8 s long, and only 2 s of today's 10 s of listening is left\./);
    expect(refused.text).toMatch(HOURS);
    for (let index = 0; index < 3; index++) {
      expect(
        (await ask(telegram, admin, '', { send: () => telegram.sendPhoto(admin, { caption: 'boss' }) })).text,
      ).toBe('echo: boss');
    }
  });

  it('crashed nowhere and leaked nothing', () => {
    expect(crashRecords(bot)).toEqual([]);
    expect(suspiciousTexts(telegram)).toEqual([]);
  });
});

describe('daily media budgets in Redis', () => {
  let world: RedisBotWorld;

  beforeAll(async () => {
    world = await startRedisBotWorld([MEDIA.name], {
      RATE_LIMIT_PER_MINUTE: '0',
      STREAM_REPLIES: 'false',
      USER_DAILY_MEDIA_LIMIT: '1',
      USER_DAILY_AUDIO_SECONDS: '0',
    });
    answering(world.providers);
  });
  afterAll(async () => {
    await world?.stop();
  });

  it("keeps the day's count in the shared store, where every process sees it", async () => {
    const { telegram, inspector } = world;
    const user = { id: 9705, first_name: 'Shared', language_code: 'en' };
    expect((await ask(telegram, user, '', { send: () => telegram.sendVoice(user, { duration: 600 }) })).text).toContain(
      'hello there',
    );
    const refused = await ask(telegram, user, '', { send: () => telegram.sendPhoto(user) });
    expect(refused.text).toMatch(/^You've sent today's 1 photos, voice notes and files/);
    const keys = await inspector.keys(`*media:*:${user.id}`);
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatch(new RegExp(`media:\\d{4}-\\d{2}-\\d{2}:${user.id}$`));
    expect(await inspector.get(keys[0] ?? '')).toBe('1');
    const ttl = await inspector.pttl(keys[0] ?? '');
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(24 * 3_600_000);
    // USER_DAILY_AUDIO_SECONDS=0: no audio budget, nothing counted.
    expect(await inspector.keys(`*audio:*:${user.id}`)).toEqual([]);
    expect(crashRecords(world.bot)).toEqual([]);
  });
});
