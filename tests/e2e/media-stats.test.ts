import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { resolveModels } from '../../providers/router/capabilities';
import { PROVIDERS } from '../../providers/registry';
import { maskSecret } from '../../providers/shared/secrets';
import type { ProviderDescriptor } from '../../providers/types';
import { type FakeProviderServer, startFakeProviderServer } from '../fakes/provider-server';
import { type FakeTelegramServer, startFakeTelegramServer } from '../fakes/telegram-server';
import {
  ask,
  botEnv,
  crashRecords,
  PROVIDER_NAMES,
  type ProviderName,
  startPollingBot,
  testKey,
} from '../helpers/bot-harness';
import type { BotProcess } from '../helpers/bot-process';
import { freePort } from '../helpers/redis-server';

/**
 * What media costs, as operators see it: `/stats` and `/metrics` count transcriptions with their
 * seconds of audio, and chat answers to requests with media, per provider and (masked) key.
 * Providers are chosen by their declared capabilities, never by name.
 */

const modelsOf = (descriptor: ProviderDescriptor) =>
  resolveModels(descriptor, { model: descriptor.defaultModel, limits: descriptor.defaultLimits });
/** A provider with a speech-to-text model of its own: voice notes go there first. */
const EARS = PROVIDERS.find((descriptor) =>
  modelsOf(descriptor).extraModels.some((model) => model.operations.includes('transcription')),
);
if (EARS === undefined) throw new Error('the suite needs a provider with a transcription model');

describe('media in /stats and /metrics', () => {
  let telegram: FakeTelegramServer;
  let providers: FakeProviderServer;
  let bot: BotProcess;
  let metricsUrl: string;
  const admin = { id: 9601, first_name: 'Ops', language_code: 'en' };

  beforeAll(async () => {
    [telegram, providers] = await Promise.all([startFakeTelegramServer(), startFakeProviderServer()]);
    const port = await freePort();
    metricsUrl = `http://127.0.0.1:${port}/metrics`;
    bot = await startPollingBot(
      telegram,
      botEnv(telegram, providers, PROVIDER_NAMES, {
        PROVIDER_ORDER: [EARS.name, ...PROVIDER_NAMES.filter((name) => name !== EARS.name)].join(','),
        RATE_LIMIT_PER_MINUTE: '0',
        ADMIN_IDS: String(admin.id),
        METRICS_PORT: String(port),
      }),
    );
  });
  afterAll(async () => {
    await bot?.stop();
    await Promise.all([telegram?.stop(), providers?.stop()]);
  });

  it('counts a transcription with its audio seconds and a photo answer, per provider and key', async () => {
    providers.setHandler((request) =>
      request.operation === 'transcription'
        ? { type: 'reply', text: 'سلام، حالت چطوره؟' }
        : { type: 'reply', text: `echo: ${request.messages.at(-1)?.content}` },
    );
    await ask(telegram, admin, '', { send: () => telegram.sendVoice(admin, { duration: 7 }) });
    await ask(telegram, admin, '', { send: () => telegram.sendPhoto(admin, { caption: 'what is it?' }) });
    const transcribedBy = providers.requests.find((request) => request.operation === 'transcription')?.dialect;
    const sawBy = providers.requests.find((request) => request.media.some((part) => part.kind === 'image'))?.dialect;
    expect(transcribedBy).toBe(EARS.name);
    expect(sawBy).toBeDefined();

    const stats = await ask(telegram, admin, '/stats');
    expect(stats.text).toContain('🎤 1 transcribed (7 s of audio)');
    expect(stats.text).toContain('🖼 1 with media');

    const body = await (await fetch(metricsUrl)).text();
    const labels = (name: string) => `{provider="${name}",key="${maskSecret(testKey(name as ProviderName, 'e2e'))}"}`;
    expect(body).toContain(`switchboard_transcriptions_total${labels(EARS.name)} 1`);
    expect(body).toContain(`switchboard_transcribed_audio_seconds_total${labels(EARS.name)} 7`);
    expect(body).toContain(`switchboard_media_requests_total${labels(sawBy!)} 1`);
  });

  it('crashed nowhere', () => {
    expect(crashRecords(bot)).toEqual([]);
  });
});
