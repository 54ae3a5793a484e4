import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { resolveModels } from '../../providers/router/capabilities';
import { PROVIDERS } from '../../providers/registry';
import type { ProviderDescriptor } from '../../providers/types';
import { type FakeProviderServer, startFakeProviderServer } from '../fakes/provider-server';
import { type FakeTelegramServer, startFakeTelegramServer } from '../fakes/telegram-server';
import { ask, botEnv, crashRecords, startPollingBot, suspiciousTexts, turnsOf } from '../helpers/bot-harness';
import type { BotProcess } from '../helpers/bot-process';

/**
 * Documents through the built bot: text-like files are read as text and answered by any chat
 * model (their text stays in history like a long message); a PDF goes inline to a model that takes
 * PDFs, past the others; files that are not what they say, too long, too many pages, or that every
 * model refuses each get one clear message. Providers are chosen by capability, never by name.
 */

const takes = (descriptor: ProviderDescriptor, kind: 'pdf' | 'audio'): boolean => {
  const { capabilities, extraModels } = resolveModels(descriptor, {
    model: descriptor.defaultModel,
    limits: descriptor.defaultLimits,
  });
  return [capabilities, ...extraModels].some((model) => model.inputs.includes(kind));
};
const TEXT_ONLY = PROVIDERS.find((descriptor) => !takes(descriptor, 'pdf') && !takes(descriptor, 'audio'));
const PDF_READER = PROVIDERS.find((descriptor) => takes(descriptor, 'pdf'));
if (TEXT_ONLY === undefined || PDF_READER === undefined) {
  throw new Error('the document suite needs a provider that takes neither PDFs nor audio, and one that takes PDFs');
}

const pdf = (pages: number): Buffer =>
  Buffer.from(
    `%PDF-1.7\n${Array.from({ length: pages }, (_, index) => `${index + 3} 0 obj << /Type /Page /Parent 2 0 R >> endobj`).join('\n')}\n2 0 obj << /Type /Pages /Count ${pages} >> endobj\n%%EOF\n`,
    'latin1',
  );

describe('documents', () => {
  let telegram: FakeTelegramServer;
  let providers: FakeProviderServer;
  let bot: BotProcess;
  const user = { id: 9501, first_name: 'Doc', language_code: 'en' };

  beforeAll(async () => {
    [telegram, providers] = await Promise.all([startFakeTelegramServer(), startFakeProviderServer()]);
    bot = await startPollingBot(
      telegram,
      botEnv(telegram, providers, [TEXT_ONLY.name, PDF_READER.name], {
        PROVIDER_ORDER: `${TEXT_ONLY.name},${PDF_READER.name}`,
        RATE_LIMIT_PER_MINUTE: '0',
      }),
    );
  });
  afterAll(async () => {
    await bot?.stop();
    await Promise.all([telegram?.stop(), providers?.stop()]);
  });

  it('reads a text file as text, with its caption, on the first chat model, and keeps it in history', async () => {
    providers.setHandler(() => ({ type: 'reply', text: 'three items' }));
    const reply = await ask(telegram, user, '', {
      send: () =>
        telegram.sendDocument(user, {
          fileName: 'list.markdown',
          mimeType: 'text/markdown',
          content: Buffer.from('# Shopping\n- نان\n- milk\n- eggs\n'),
          caption: 'how many items?',
        }),
    });
    expect(reply.text).toBe('three items');
    const [request] = providers.requests;
    expect(request?.dialect).toBe(TEXT_ONLY.name);
    expect(request?.messages.at(-1)?.content).toBe(
      'how many items?\n\nFile list.markdown:\n```\n# Shopping\n- نان\n- milk\n- eggs\n```',
    );
    providers.setHandler((next) => ({ type: 'reply', text: `echo: ${next.messages.at(-1)?.content}` }));
    await ask(telegram, user, 'and the first one?');
    expect(turnsOf(providers.requests.at(-1))[0]).toMatch(/^user: how many items\?\n\nFile list\.markdown:/);
  });

  it('reads code sent as a file whose type Telegram does not know, by its name', async () => {
    providers.reset();
    const reply = await ask(telegram, user, '', {
      send: () =>
        telegram.sendDocument(user, {
          fileName: 'main.py',
          mimeType: 'application/octet-stream',
          content: Buffer.from('print("hi")\n'),
        }),
    });
    expect(reply.text).toMatch(/^echo: The user sent this file without a caption\.\n\nFile main\.py:/);
  });

  it('refuses a "text" file that is binary, and one too long, asking no provider', async () => {
    providers.reset();
    const binary = await ask(telegram, user, '', {
      send: () =>
        telegram.sendDocument(user, { fileName: 'notes.txt', content: Buffer.from([0x50, 0x4b, 0x03, 0x04, 0, 0, 1]) }),
    });
    expect(binary.text).toMatch(/^That file doesn't look like text I can read\./);
    const long = await ask(telegram, user, '', {
      send: () =>
        telegram.sendDocument(user, {
          fileName: 'big.csv',
          mimeType: 'text/csv',
          content: Buffer.from('a,b\n'.repeat(12_000)),
        }),
    });
    expect(long.text).toBe(
      'That file is too long for me (48000 characters; the most I take is 40000). Please send a part of it.',
    );
    expect(providers.requests).toEqual([]);
  });

  it('sends a PDF inline to a model that takes PDFs, past the text-only provider, and keeps a stand-in', async () => {
    providers.reset();
    const reply = await ask(telegram, user, '', {
      send: () =>
        telegram.sendDocument(user, {
          fileName: 'report.pdf',
          mimeType: 'application/pdf',
          content: pdf(3),
          caption: 'summarise it',
        }),
    });
    expect(reply.text).toBe('echo: summarise it');
    expect(providers.requestsFor(TEXT_ONLY.name)).toEqual([]);
    expect(providers.requestsFor(PDF_READER.name)[0]?.media).toMatchObject([
      { kind: 'pdf', mimeType: 'application/pdf', head: '25504446', valid: true },
    ]);
    await ask(telegram, user, 'thanks');
    expect(turnsOf(providers.requests.at(-1))).toContain('user: [PDF report.pdf] summarise it');
  });

  it('refuses a PDF with too many pages before sending it', async () => {
    providers.reset();
    const reply = await ask(telegram, user, '', {
      send: () => telegram.sendDocument(user, { fileName: 'book.pdf', mimeType: 'application/pdf', content: pdf(150) }),
    });
    expect(reply.text).toBe('That PDF has 150 pages; the most I send is 100. Please send the pages you need.');
    expect(providers.requests).toEqual([]);
  });

  it('says a file could not be read when every model that could take it refuses it', async () => {
    providers.reset();
    // A voice note in a format no model takes: the one model that transcribes refuses it (400).
    const reply = await ask(telegram, user, '', {
      send: () => telegram.sendVoice(user, { mimeType: 'application/x-broken' }),
    });
    expect(reply.text).toBe("The AI models couldn't read that file: it may be damaged or in a format they don't take.");
    expect(providers.requestsFor(PDF_READER.name)).toHaveLength(1);
    expect(providers.requestsFor(TEXT_ONLY.name)).toEqual([]);
  });

  it('crashed nowhere and leaked nothing', () => {
    expect(crashRecords(bot)).toEqual([]);
    expect(suspiciousTexts(telegram)).toEqual([]);
  });
});

describe('documents with no model that takes PDFs', () => {
  let telegram: FakeTelegramServer;
  let providers: FakeProviderServer;
  let bot: BotProcess;
  const user = { id: 9601, first_name: 'Doc', language_code: 'en' };

  beforeAll(async () => {
    [telegram, providers] = await Promise.all([startFakeTelegramServer(), startFakeProviderServer()]);
    bot = await startPollingBot(telegram, botEnv(telegram, providers, [TEXT_ONLY.name]));
  });
  afterAll(async () => {
    await bot?.stop();
    await Promise.all([telegram?.stop(), providers?.stop()]);
  });

  it('says no model reads PDFs, without downloading it, and still reads text files', async () => {
    const refused = await ask(telegram, user, '', {
      send: () => telegram.sendDocument(user, { fileName: 'report.pdf', mimeType: 'application/pdf', content: pdf(1) }),
    });
    expect(refused.text).toBe(
      'None of the AI models set up here can read this kind of message yet. Please send it as text.',
    );
    expect(telegram.callsTo('getFile')).toEqual([]);
    const read = await ask(telegram, user, '', {
      send: () => telegram.sendDocument(user, { fileName: 'a.txt', content: Buffer.from('hello') }),
    });
    expect(read.text).toMatch(/^echo: The user sent this file/);
    expect(providers.requests).toHaveLength(1);
  });
});
