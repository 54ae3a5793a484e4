import { describe, expect, it } from '@jest/globals';
import { canServe, needsOf, resolveModels } from '../../providers/router/capabilities';
import { isRouterError, type RouterError } from '../../providers/router/errors';
import { DEFAULT_ROUTER_SETTINGS, Router, type RouteRequest } from '../../providers/router/router';
import {
  type ChatRequest,
  type ChatResult,
  type MediaPart,
  type ModelCapabilities,
  ProviderError,
  type ProviderAdapter,
  type ProviderConfig,
  type ProviderDescriptor,
  TEXT_CHAT,
} from '../../providers/types';
import { MemoryQuotaStore } from '../../storage/memory/quota-store';
import { FakeClock } from '../helpers/fake-clock';

/**
 * Capabilities in the provider port: what each configured model takes and offers, and how the
 * router keeps only the models that can take every part of a request. The providers here are made
 * up, with in-process adapters that record what they were sent.
 */

const IMAGE: MediaPart = { kind: 'image', mimeType: 'image/jpeg', data: new Uint8Array([0xff, 0xd8, 0xff]) };
const AUDIO: MediaPart = { kind: 'audio', mimeType: 'audio/ogg', data: new Uint8Array(4000), durationSeconds: 4 };

interface Sent {
  readonly provider: string;
  readonly model: string;
  readonly operation: 'chat' | 'transcription';
  readonly request: ChatRequest;
}

function descriptor(
  name: string,
  sent: Sent[],
  extra: Partial<ProviderDescriptor> = {},
  fail?: (model: string) => ProviderError | undefined,
): ProviderDescriptor {
  return {
    name,
    envPrefix: name.toUpperCase(),
    defaultBaseUrl: 'http://127.0.0.1:9',
    wireFormat: 'made-up',
    defaultModel: `${name}-chat`,
    contextWindowTokens: 100_000,
    defaultLimits: {},
    dailyResetZone: 'UTC',
    create: (options): ProviderAdapter => {
      const answer = async (request: ChatRequest, operation: Sent['operation']): Promise<ChatResult> => {
        sent.push({ provider: name, model: options.model, operation, request });
        const failure = fail?.(options.model);
        if (failure !== undefined) throw failure;
        return {
          text: `${operation} by ${options.model}`,
          finishReason: 'stop',
          rawFinishReason: 'stop',
          usage: { inputTokens: 1, outputTokens: 1, totalTokens: 2 },
          model: options.model,
          latencyMs: 1,
          rateLimits: undefined,
        };
      };
      return {
        name,
        model: options.model,
        complete: (request) => answer(request, 'chat'),
        stream: () => {
          throw new Error('not used');
        },
        transcribe: (request) => answer(request, 'transcription'),
      };
    },
    ...extra,
  };
}

/** A provider configured as the config layer configures it: chat model, then its role models. */
function configured(of: ProviderDescriptor, choices: Parameters<typeof resolveModels>[2] = {}): ProviderConfig {
  const chat = { model: of.defaultModel, limits: {} };
  return {
    descriptor: of,
    keys: [`${of.name}-key-0123456789`],
    baseUrl: of.defaultBaseUrl,
    ...chat,
    ...resolveModels(of, chat, choices),
  };
}

function router(providers: readonly ProviderConfig[]): Router {
  return new Router({
    ...DEFAULT_ROUTER_SETTINGS,
    providers,
    hedgeMaxShare: 0,
    quotaStore: new MemoryQuotaStore(),
    clock: new FakeClock(undefined, true),
  });
}

async function routerError(promise: Promise<unknown>): Promise<RouterError> {
  try {
    await promise;
  } catch (error) {
    if (isRouterError(error)) return error;
    throw error;
  }
  throw new Error('expected a RouterError');
}

const VISION_ROLE = { defaultModel: 'seer-vision', operations: ['chat'], inputs: ['text', 'image'] } as const;
const ALL_INPUTS: ModelCapabilities = {
  operations: ['chat', 'transcription'],
  inputs: ['text', 'image', 'audio', 'pdf'],
};

const photo = (caption = 'what is this?'): RouteRequest => ({
  messages: [
    { role: 'system', content: 'be brief' },
    { role: 'user', content: caption, media: [IMAGE] },
  ],
});
const voice: RouteRequest = { messages: [{ role: 'user', content: '', media: [AUDIO] }] };

describe('resolveModels', () => {
  const sent: Sent[] = [];

  it('leaves a provider without roles a text chat model', () => {
    expect(resolveModels(descriptor('plain', sent), { model: 'plain-chat', limits: {} })).toEqual({
      capabilities: TEXT_CHAT,
      extraModels: [],
    });
  });

  it("gives a role's default model its own capabilities, context and limits", () => {
    const seer = descriptor('seer', sent, {
      roles: { vision: { ...VISION_ROLE, contextWindowTokens: 8_000, defaultLimits: { requestsPerDay: 7 } } },
    });
    expect(resolveModels(seer, { model: 'seer-chat', limits: { requestsPerDay: 100 } })).toEqual({
      capabilities: TEXT_CHAT,
      extraModels: [
        {
          model: 'seer-vision',
          roles: ['vision'],
          operations: ['chat'],
          inputs: ['text', 'image'],
          contextWindowTokens: 8_000,
          limits: { requestsPerDay: 7 },
        },
      ],
    });
  });

  it('adds a role without a model of its own to the chat model, and switches a role off with null', () => {
    const omni = descriptor('omni', sent, {
      roles: { transcription: { operations: ['transcription'], inputs: ['audio'] }, vision: VISION_ROLE },
    });
    const models = resolveModels(omni, { model: 'omni-chat', limits: {} }, { vision: null });
    expect(models.extraModels).toEqual([]);
    expect(models.capabilities).toEqual({ operations: ['chat', 'transcription'], inputs: ['text', 'audio'] });
  });

  it('merges a role into the chat model when the operator names the chat model for it', () => {
    const seer = descriptor('seer', sent, { roles: { vision: VISION_ROLE } });
    const models = resolveModels(seer, { model: 'seer-chat', limits: {} }, { vision: 'seer-chat' });
    expect(models).toEqual({ capabilities: { operations: ['chat'], inputs: ['text', 'image'] }, extraModels: [] });
  });

  it('trusts a model named for a role the provider does not offer with that role', () => {
    const plain = descriptor('plain', sent);
    const models = resolveModels(plain, { model: 'plain-chat', limits: {} }, { transcription: 'ears-1' });
    expect(models.extraModels).toMatchObject([{ model: 'ears-1', operations: ['transcription'], inputs: ['audio'] }]);
  });
});

describe('canServe', () => {
  it('needs the operation and every kind of input', () => {
    const vision = { operations: ['chat'], inputs: ['text', 'image'] } as const;
    expect(canServe(vision, needsOf(photo().messages))).toBe(true);
    expect(canServe(TEXT_CHAT, needsOf(photo().messages))).toBe(false);
    expect(canServe(vision, needsOf(voice.messages, 'transcription'))).toBe(false);
    expect(canServe(ALL_INPUTS, needsOf(voice.messages, 'transcription'))).toBe(true);
    // An image without a caption still needs a model that takes images (and no text).
    expect([...needsOf([{ role: 'user', content: '', media: [IMAGE] }]).inputs]).toEqual(['image']);
  });
});

describe('the router keeps only the models that can take the request', () => {
  it('sends a photo past a text-only provider to the first vision model, and text to chat models only', async () => {
    const sent: Sent[] = [];
    const pool = router([
      configured(descriptor('plain', sent)),
      configured(descriptor('seer', sent, { roles: { vision: VISION_ROLE } })),
      configured(descriptor('omni', sent, { chatCapabilities: ALL_INPUTS })),
    ]);
    const answer = await pool.complete(photo());
    expect(answer).toMatchObject({ provider: 'seer', model: 'seer-vision', text: 'chat by seer-vision' });
    expect(answer.failedAttempts).toEqual([]);

    const text = await pool.complete({ messages: [{ role: 'user', content: 'hello' }] });
    expect(text).toMatchObject({ provider: 'plain', model: 'plain-chat' });
    expect(sent.map((call) => `${call.provider}:${call.model}`)).toEqual(['seer:seer-vision', 'plain:plain-chat']);
    // The image went whole to the vision model.
    expect(sent[0]?.request.messages.at(-1)?.media).toEqual([IMAGE]);
  });

  it('falls over from a failing vision model to the next model that takes images, never to a text-only one', async () => {
    const sent: Sent[] = [];
    const failing = (model: string) =>
      model === 'seer-vision'
        ? new ProviderError({ kind: 'transient', provider: 'seer', message: 'overloaded', status: 503 })
        : undefined;
    const pool = router([
      configured(descriptor('seer', sent, { roles: { vision: VISION_ROLE } }, failing)),
      configured(descriptor('plain', sent)),
      configured(descriptor('omni', sent, { chatCapabilities: ALL_INPUTS })),
    ]);
    const answer = await pool.complete(photo());
    expect(answer).toMatchObject({ provider: 'omni', model: 'omni-chat' });
    expect(answer.failedAttempts).toMatchObject([{ provider: 'seer', kind: 'transient' }]);
    expect(sent.map((call) => call.model)).toEqual(['seer-vision', 'omni-chat']);
    expect(sent.some((call) => call.provider === 'plain')).toBe(false);
  });

  it('transcribes through the models that offer transcription, falling over between them', async () => {
    const sent: Sent[] = [];
    const failing = (model: string) =>
      model === 'ears-1'
        ? new ProviderError({ kind: 'bad_request', provider: 'ears', message: 'could not process file', status: 400 })
        : undefined;
    const pool = router([
      configured(descriptor('plain', sent)),
      configured(
        descriptor(
          'ears',
          sent,
          {
            roles: { transcription: { defaultModel: 'ears-1', operations: ['transcription'], inputs: ['audio'] } },
          },
          failing,
        ),
      ),
      configured(descriptor('omni', sent, { chatCapabilities: ALL_INPUTS })),
    ]);
    const heard = await pool.transcribe(voice);
    expect(heard).toMatchObject({ provider: 'omni', text: 'transcription by omni-chat' });
    expect(sent.map((call) => `${call.operation}:${call.model}`)).toEqual([
      'transcription:ears-1',
      'transcription:omni-chat',
    ]);
  });

  it("counts a speech-to-text model's quota in seconds of audio, then falls over when they are spent", async () => {
    const sent: Sent[] = [];
    const ears = descriptor('ears', sent, {
      roles: {
        transcription: {
          defaultModel: 'ears-1',
          operations: ['transcription'],
          inputs: ['audio'],
          defaultLimits: { tokensPerDay: 10 },
        },
      },
    });
    const pool = router([configured(ears), configured(descriptor('omni', sent, { chatCapabilities: ALL_INPUTS }))]);
    // 4 s of audio each: two fit in 10 s a day, the third goes to the chat model that transcribes.
    for (let index = 0; index < 3; index++) await pool.transcribe(voice);
    expect(sent.map((call) => call.model)).toEqual(['ears-1', 'ears-1', 'omni-chat']);
  });

  it("enforces a speech-to-text model's audio seconds per hour per key, on a fake clock", async () => {
    const sent: Sent[] = [];
    const ears = descriptor('ears', sent, {
      roles: {
        transcription: {
          defaultModel: 'ears-1',
          operations: ['transcription'],
          inputs: ['audio'],
          defaultLimits: { tokensPerHour: 10, tokensPerDay: 100 },
        },
      },
    });
    const clock = new FakeClock();
    const pool = new Router({
      ...DEFAULT_ROUTER_SETTINGS,
      providers: [
        { ...configured(ears), keys: ['ears-key-a-0123456789', 'ears-key-b-0123456789'] },
        configured(descriptor('omni', sent, { chatCapabilities: ALL_INPUTS })),
      ],
      hedgeMaxShare: 0,
      maxWaitMs: 0,
      quotaStore: new MemoryQuotaStore(),
      clock,
    });
    const heard = async (): Promise<string> => {
      const result = await pool.transcribe(voice);
      return result.provider === 'ears' ? result.keyId : result.provider;
    };
    // 4 s each: two fit each key's 10 s an hour; then the chat model that transcribes takes over.
    const first = [await heard(), await heard(), await heard(), await heard(), await heard()];
    expect(first.filter((who) => who === 'omni')).toHaveLength(1);
    expect(first.at(-1)).toBe('omni');
    expect(new Set(first.slice(0, 4)).size).toBe(2);
    clock.advance(59 * 60_000);
    expect(await heard()).toBe('omni');
    // An hour after the first, its seconds have left the key's hour.
    clock.advance(60_000);
    expect(await heard()).not.toBe('omni');
    expect(sent.filter((call) => call.model === 'ears-1')).toHaveLength(5);
  });

  it('gives a typed no_capability error, sending nothing, when no configured model takes the request', async () => {
    const sent: Sent[] = [];
    const pool = router([
      configured(descriptor('plain', sent)),
      configured(descriptor('seer', sent, { roles: { vision: VISION_ROLE } })),
    ]);
    const error = await routerError(pool.transcribe(voice));
    expect(error.kind).toBe('no_capability');
    expect(error.message).toMatch(/no configured model offers transcription with audio/);
    const photoOfVoice = await routerError(
      pool.complete({ messages: [{ role: 'user', content: 'and this?', media: [IMAGE, AUDIO] }] }),
    );
    expect(photoOfVoice.kind).toBe('no_capability');
    expect(sent).toEqual([]);
  });

  it('gives a vision model with a quota of its own key ids of its own, and one that shares it the chat key ids', async () => {
    const sent: Sent[] = [];
    const own = descriptor('seer', sent, { roles: { vision: VISION_ROLE } });
    const shared = descriptor('pooled', sent, {
      roles: { vision: { ...VISION_ROLE, defaultModel: 'pooled-vision', sharedQuota: true } },
    });
    const reservedBy = async (first: ProviderDescriptor, second: ProviderDescriptor) => {
      const quota = new MemoryQuotaStore();
      const reserved: string[] = [];
      const acquire = quota.acquire.bind(quota);
      quota.acquire = async (request) => {
        reserved.push(...request.candidates.map((candidate) => candidate.keyId.split(':')[0] ?? ''));
        return acquire(request);
      };
      const pool = new Router({
        ...DEFAULT_ROUTER_SETTINGS,
        providers: [configured(first), configured(second)],
        hedgeMaxShare: 0,
        quotaStore: quota,
        clock: new FakeClock(undefined, true),
      });
      await pool.complete(photo());
      await pool.complete({ messages: [{ role: 'user', content: 'hi' }] });
      return { reserved, pool };
    };
    const seerFirst = await reservedBy(own, shared);
    expect(seerFirst.reserved).toEqual(['seer/seer-vision', 'seer']);
    expect((await reservedBy(shared, own)).reserved).toEqual(['pooled', 'pooled']);
    // Only the chat lanes show in the snapshot (stats and /readyz list providers).
    expect(seerFirst.pool.snapshot().providers.map((provider) => provider.name)).toEqual(['seer', 'pooled']);
    expect(seerFirst.pool.providerNames).toEqual(['seer', 'pooled']);
  });
});
