import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { resolveModels } from '../../../providers/router/capabilities';
import { PROVIDERS } from '../../../providers/registry';
import {
  type ChatRequest,
  isProviderError,
  type MediaPart,
  type ModelCapabilities,
  type ProviderDescriptor,
  TEXT_CHAT,
} from '../../../providers/types';
import { type FakeProviderServer, startFakeProviderServer } from '../../fakes/provider-server';

/**
 * Media through every adapter's real SDK against the fake providers: each configured model of the
 * registry (its defaults) gets the parts it takes in its wire format (image parts as data URLs or
 * inline data, audio uploaded or inline), and a model that cannot take a part is refused as the
 * provider refuses it. Providers and models come from the registry's capabilities; none is named.
 */

const JPEG = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01]);
const OGG = new Uint8Array([0x4f, 0x67, 0x67, 0x53, 0x00, 0x02, ...new Array(200).fill(7)]);
const PDF = new Uint8Array([0x25, 0x50, 0x44, 0x46, 0x2d, 0x31, 0x2e, 0x37, 0x0a]);
const IMAGE: MediaPart = { kind: 'image', mimeType: 'image/jpeg', data: JPEG };
const AUDIO: MediaPart = { kind: 'audio', mimeType: 'audio/ogg', data: OGG, fileName: 'voice.ogg', durationSeconds: 2 };
const DOCUMENT: MediaPart = { kind: 'pdf', mimeType: 'application/pdf', data: PDF };

interface ModelUnderTest {
  readonly descriptor: ProviderDescriptor;
  readonly model: string;
  readonly capabilities: ModelCapabilities;
  readonly label: string;
}

/** Every model the registry configures by default: each provider's chat model and its role models. */
const MODELS: readonly ModelUnderTest[] = PROVIDERS.flatMap((descriptor) => {
  const chat = { model: descriptor.defaultModel, limits: descriptor.defaultLimits };
  const { capabilities, extraModels } = resolveModels(descriptor, chat);
  return [
    { descriptor, model: chat.model, capabilities, label: `${descriptor.name} ${chat.model}` },
    ...extraModels.map((extra) => ({
      descriptor,
      model: extra.model,
      capabilities: extra,
      label: `${descriptor.name} ${extra.model}`,
    })),
  ];
});

const taking = (kind: MediaPart['kind'], operation: 'chat' | 'transcription' = 'chat') =>
  MODELS.filter(
    (entry) => entry.capabilities.inputs.includes(kind) && entry.capabilities.operations.includes(operation),
  );

let server: FakeProviderServer;
beforeAll(async () => {
  server = await startFakeProviderServer();
});
afterAll(async () => server.stop());
beforeEach(() => server.reset());

function adapterFor(entry: ModelUnderTest) {
  return entry.descriptor.create({
    baseUrl: server.baseUrlFor(entry.descriptor.name),
    model: entry.model,
    timeoutMs: 5_000,
    idleTimeoutMs: 5_000,
  });
}

const withImage = (caption: string): ChatRequest => ({
  messages: [
    { role: 'system', content: 'You describe pictures.' },
    { role: 'user', content: 'earlier question' },
    { role: 'assistant', content: 'earlier answer' },
    { role: 'user', content: caption, media: [IMAGE] },
  ],
});

describe('the registry declares media models', () => {
  it('has models that take images, and models that transcribe audio', () => {
    expect(taking('image').length).toBeGreaterThan(0);
    expect(taking('audio', 'transcription').length).toBeGreaterThan(0);
    expect(
      MODELS.some((entry) => entry.capabilities === TEXT_CHAT || !entry.capabilities.inputs.includes('image')),
    ).toBe(true);
  });
});

describe.each(taking('image').map((entry) => [entry.label, entry] as const))('%s takes images', (_label, entry) => {
  it('sends the image inline with the caption and the history, and answers', async () => {
    server.setHandler(() => ({ type: 'reply', text: 'a cat on a mat' }));
    const result = await adapterFor(entry).complete(withImage('what is this?'), 'media-key-0123456789');
    expect(result.text).toBe('a cat on a mat');
    const [request] = server.requests;
    expect(request?.model).toBe(entry.model);
    expect(request?.media).toMatchObject([
      { kind: 'image', mimeType: 'image/jpeg', bytes: JPEG.length, head: 'ffd8ffe0', valid: true },
    ]);
    // The caption goes with the image, after the history.
    expect(request?.messages.filter((message) => message.role !== 'system').map((message) => message.content)).toEqual([
      'earlier question',
      'earlier answer',
      'what is this?',
    ]);
  });

  it('sends an image without a caption as the image alone', async () => {
    await adapterFor(entry).complete(
      { messages: [{ role: 'user', content: '', media: [IMAGE] }] },
      'media-key-0123456789',
    );
    expect(server.requests[0]?.media).toHaveLength(1);
  });
});

describe.each(
  MODELS.filter(
    (entry) => entry.capabilities.operations.includes('chat') && !entry.capabilities.inputs.includes('image'),
  ).map((entry) => [entry.label, entry] as const),
)('%s takes text only', (_label, entry) => {
  it('is refused by the provider as a bad request when sent an image (the router never sends one)', async () => {
    let error: unknown;
    try {
      await adapterFor(entry).complete(withImage('what is this?'), 'media-key-0123456789');
    } catch (caught) {
      error = caught;
    }
    // Either the adapter refuses to encode it, or the provider refuses it: never an answer.
    expect(isProviderError(error) && error.kind).toBe('bad_request');
  });
});

describe.each(taking('pdf').map((entry) => [entry.label, entry] as const))('%s takes PDFs', (_label, entry) => {
  it('sends the PDF inline', async () => {
    await adapterFor(entry).complete(
      { messages: [{ role: 'user', content: 'summarise it', media: [DOCUMENT] }] },
      'media-key-0123456789',
    );
    expect(server.requests[0]?.media).toMatchObject([{ kind: 'pdf', mimeType: 'application/pdf', head: '25504446' }]);
  });
});

describe.each(taking('audio', 'transcription').map((entry) => [entry.label, entry] as const))(
  '%s transcribes audio',
  (_label, entry) => {
    it('sends the voice note and returns what was said', async () => {
      server.setHandler((request) => ({
        type: 'reply',
        text: request.media[0]?.kind === 'audio' ? '  salam, how are you?\n' : 'no audio arrived',
      }));
      const adapter = adapterFor(entry);
      expect(adapter.transcribe).toBeDefined();
      const result = await adapter.transcribe!(
        { messages: [{ role: 'user', content: '', media: [AUDIO] }] },
        'media-key-0123456789',
      );
      expect(result.text).toBe('salam, how are you?');
      const [request] = server.requests;
      expect(request?.model).toBe(entry.model);
      expect(request?.apiKey).toBe('media-key-0123456789');
      expect(request?.media).toMatchObject([
        { kind: 'audio', mimeType: 'audio/ogg', bytes: OGG.length, head: '4f676753' },
      ]);
    });

    it("maps the provider's refusal of the audio to a bad request", async () => {
      const adapter = adapterFor(entry);
      let error: unknown;
      try {
        await adapter.transcribe!(
          { messages: [{ role: 'user', content: '', media: [{ ...AUDIO, mimeType: 'application/x-broken' }] }] },
          'media-key-0123456789',
        );
      } catch (caught) {
        error = caught;
      }
      expect(isProviderError(error) && error.kind).toBe('bad_request');
    });
  },
);
