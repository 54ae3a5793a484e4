import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { resolveModels } from '../../providers/router/capabilities';
import { PROVIDERS } from '../../providers/registry';
import type { ProviderDescriptor } from '../../providers/types';
import { dialectFor, type FakeProviderServer, startFakeProviderServer } from '../fakes/provider-server';
import { type FakeTelegramServer, startFakeTelegramServer } from '../fakes/telegram-server';
import {
  ask,
  botEnv,
  crashRecords,
  pressButton,
  startPollingBot,
  suspiciousTexts,
  turnsOf,
} from '../helpers/bot-harness';
import type { BotProcess } from '../helpers/bot-process';
import { pdfOf } from '../helpers/pdf';

/**
 * Documents through the built bot: text-like files are read as text and answered by any chat
 * model (their text stays in history like a long message); a PDF goes inline to a model that takes
 * PDFs, past the others, and its text layer, extracted, goes to any chat model when no model that
 * takes PDFs answers, is configured, or may take it (too many pages); files that are not what they
 * say, too long, a scan without text, or that every model refuses each get one clear message.
 * Providers are chosen by capability, never by name.
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

/** A valid PDF of `pages` pages, one line each. */
const pdf = (pages: number): Buffer =>
  pdfOf(Array.from({ length: pages }, (_, index) => [`Line on page ${index + 1}`]));

/** What a text-only model was sent for an extracted PDF: the part after the caption. */
const pdfTextOf = (content: string | undefined): string =>
  (content ?? '').slice((content ?? '').indexOf('Text of the PDF'));

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

  it('regenerates an answer to a PDF with the PDF again, inline, on the model that takes PDFs', async () => {
    providers.reset();
    const owner = { id: 9502, first_name: 'Again', language_code: 'en' };
    const first = await ask(telegram, owner, '', {
      send: () =>
        telegram.sendDocument(owner, {
          fileName: 'memo.pdf',
          mimeType: 'application/pdf',
          content: pdf(2),
          caption: 'gist?',
        }),
    });
    expect(first.text).toBe('echo: gist?');
    const again = await pressButton(telegram, owner, first, '🔄 Regenerate');
    expect(again.text).toBe('echo: gist?');
    const [, regenerated] = providers.requestsFor(PDF_READER.name);
    expect(regenerated?.media).toMatchObject([
      { kind: 'pdf', mimeType: 'application/pdf', head: '25504446', valid: true },
    ]);
    expect(turnsOf(regenerated)).toEqual(['user: gist?']);
    expect(providers.requestsFor(TEXT_ONLY.name)).toEqual([]);
  });

  it('asks a follow-up about a PDF with the PDF again, inline, for two exchanges; history keeps the question', async () => {
    providers.reset();
    const reader = { id: 9503, first_name: 'پیگیر', language_code: 'fa' };
    await ask(telegram, reader, '', {
      send: () =>
        telegram.sendDocument(reader, {
          fileName: 'plan.pdf',
          mimeType: 'application/pdf',
          content: pdf(2),
          caption: 'خلاصه؟',
        }),
    });
    const followUp = await ask(telegram, reader, 'بخش ۲ چه می‌گوید؟');
    expect(followUp.text).toBe('echo: بخش ۲ چه می‌گوید؟');
    const asked = providers.requestsFor(PDF_READER.name)[1];
    expect(asked?.media).toMatchObject([{ kind: 'pdf', mimeType: 'application/pdf', head: '25504446', valid: true }]);
    expect(turnsOf(asked)).toEqual([
      'user: [PDF plan.pdf] خلاصه؟',
      'assistant: echo: خلاصه؟',
      'user: بخش ۲ چه می‌گوید؟',
    ]);
    await ask(telegram, reader, 'و بخش ۱؟');
    expect(providers.requestsFor(PDF_READER.name)).toHaveLength(3);
    // Two exchanges on, the PDF is no longer sent: the question goes to the first chat model.
    await ask(telegram, reader, 'ممنون');
    expect(providers.requestsFor(PDF_READER.name)).toHaveLength(3);
    expect(turnsOf(providers.requestsFor(TEXT_ONLY.name)[0])).toEqual([
      'user: [PDF plan.pdf] خلاصه؟',
      'assistant: echo: خلاصه؟',
      'user: بخش ۲ چه می‌گوید؟',
      'assistant: echo: بخش ۲ چه می‌گوید؟',
      'user: و بخش ۱؟',
      'assistant: echo: و بخش ۱؟',
      'user: ممنون',
    ]);
  });

  it('reads the text of a PDF with more pages than go inline, up to the page cap, and says so', async () => {
    providers.reset();
    const since = telegram.mark();
    telegram.sendDocument(user, { fileName: 'book.pdf', mimeType: 'application/pdf', content: pdf(150) });
    const note = await telegram.waitForMessage(user.id, (message) => message.fromBot, { since });
    expect(note.text).toBe(
      '📄 That PDF is longer than I can read at once, so I read it only up to page 100 of 150. To ask about the rest, send those pages as a separate PDF.',
    );
    const reply = await telegram.waitForMessage(user.id, (message) => message.text.startsWith('echo:'), { since });
    expect(reply.text).toMatch(/^echo: \(The user sent this PDF without a caption\.\)/);
    expect(providers.requestsFor(PDF_READER.name)).toEqual([]);
    const [request] = providers.requestsFor(TEXT_ONLY.name);
    expect(request?.media).toEqual([]);
    const text = pdfTextOf(request?.messages.at(-1)?.content);
    expect(
      text.startsWith(
        'Text of the PDF book.pdf (pages 1-100 of 150; the rest was not read):\n```\nLine on page 1\n\nLine on page 2\n',
      ),
    ).toBe(true);
    expect(text).toContain('Line on page 100\n```');
    expect(text).not.toContain('page 101');
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

  it('sends the extracted text through the whole pool when the model that takes PDFs is out of quota (last: its key stays cooled down)', async () => {
    providers.reset();
    const quota = dialectFor(PDF_READER.name).errors.quotaExhausted();
    providers.setHandler((request) =>
      request.dialect === PDF_READER.name && request.media.length > 0
        ? quota
        : { type: 'reply', text: `read by ${request.dialect}` },
    );
    const reply = await ask(telegram, user, '', {
      send: () =>
        telegram.sendDocument(user, {
          fileName: 'نامه.pdf',
          mimeType: 'application/pdf',
          content: pdfOf([['سلام دنیا', 'این یک آزمایش است']]),
          caption: 'این نامه چه می‌گوید؟',
        }),
    });
    expect(reply.text).toBe(`read by ${TEXT_ONLY.name}`);
    expect(providers.requestsFor(PDF_READER.name).map((request) => request.media.map((part) => part.kind))).toEqual([
      ['pdf'],
    ]);
    const [text] = providers.requestsFor(TEXT_ONLY.name);
    expect(text?.media).toEqual([]);
    expect(text?.messages.at(-1)?.content).toBe(
      'این نامه چه می‌گوید؟\n\nText of the PDF نامه.pdf (one page):\n```\nسلام دنیا\nاین یک آزمایش است\n```',
    );
    // Regenerate (streamed) meets the same: the PDF model's key is cooling down, so the text goes.
    const sentBefore = providers.requests.length;
    const again = await pressButton(telegram, user, reply, '🔄 Regenerate');
    expect(again.text).toBe(`read by ${TEXT_ONLY.name}`);
    const regenerated = providers.requests.slice(sentBefore);
    expect(regenerated.map((request) => [request.dialect, request.stream])).toEqual([[TEXT_ONLY.name, true]]);
    expect(regenerated[0]?.messages.at(-1)?.content).toBe(text?.messages.at(-1)?.content);
    // History keeps the stand-in, not the text.
    await ask(telegram, user, 'thanks');
    expect(turnsOf(providers.requests.at(-1))).toContain('user: [PDF نامه.pdf] این نامه چه می‌گوید؟');
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
  const persian = { id: 9602, first_name: 'سند', language_code: 'fa' };

  beforeAll(async () => {
    [telegram, providers] = await Promise.all([startFakeTelegramServer(), startFakeProviderServer()]);
    bot = await startPollingBot(
      telegram,
      botEnv(telegram, providers, [TEXT_ONLY.name], { RATE_LIMIT_PER_MINUTE: '0' }),
    );
  });
  afterAll(async () => {
    await bot?.stop();
    await Promise.all([telegram?.stop(), providers?.stop()]);
  });

  it('answers a PDF from its extracted text, Persian kept in reading order, and still reads text files', async () => {
    const reply = await ask(telegram, persian, '', {
      send: () =>
        telegram.sendDocument(persian, {
          fileName: 'گزارش.pdf',
          mimeType: 'application/pdf',
          content: pdfOf([['گزارش سالانه', 'فروش بیشتر شد'], ['صفحهٔ دوم']]),
          caption: 'خلاصه کن',
        }),
    });
    expect(reply.text).toMatch(/^echo: خلاصه کن/);
    expect(providers.requests[0]?.messages.at(-1)?.content).toBe(
      'خلاصه کن\n\nText of the PDF گزارش.pdf (2 pages):\n```\nگزارش سالانه\nفروش بیشتر شد\n\nصفحهٔ دوم\n```',
    );
    // Regenerate reads the PDF again and sends its text again.
    const again = await pressButton(telegram, persian, reply, '🔄 پاسخ دوباره');
    expect(again.text).toMatch(/^echo: خلاصه کن/);
    expect(providers.requests[1]?.messages.at(-1)?.content).toBe(providers.requests[0]?.messages.at(-1)?.content);
    expect(turnsOf(providers.requests[1])).toHaveLength(1);
    const read = await ask(telegram, user, '', {
      send: () => telegram.sendDocument(user, { fileName: 'a.txt', content: Buffer.from('hello') }),
    });
    expect(read.text).toMatch(/^echo: The user sent this file/);
    expect(providers.requests).toHaveLength(3);
  });

  it('cuts a long PDF at the token cap, says so, and sends whole pages then the start of the next', async () => {
    providers.reset();
    providers.setHandler(() => ({ type: 'reply', text: 'summary' }));
    const pages = Array.from({ length: 30 }, (_, index) => [
      `Chapter ${index + 1}`,
      ...Array.from({ length: 30 }, () => 'lorem ipsum dolor sit amet consectetur adipiscing elit sed do'),
    ]);
    const since = telegram.mark();
    telegram.sendDocument(user, { fileName: 'long.pdf', mimeType: 'application/pdf', content: pdfOf(pages) });
    const note = await telegram.waitForMessage(user.id, (message) => message.fromBot, { since });
    const [, lastPage] = /up to page (\d+) of 30\./.exec(note.text) ?? [];
    expect(Number(lastPage)).toBeGreaterThan(1);
    expect(Number(lastPage)).toBeLessThan(30);
    await telegram.waitForMessage(user.id, (message) => message.text === 'summary', { since });
    const text = pdfTextOf(providers.requests.at(-1)?.messages.at(-1)?.content);
    expect(text.startsWith(`Text of the PDF long.pdf (pages 1-${lastPage} of 30; the rest was not read):`)).toBe(true);
    expect(text).toContain(`Chapter ${lastPage}\n`);
    expect(text).not.toContain(`Chapter ${Number(lastPage) + 1}\n`); // A follow-up reads the text again, without telling the cut again: the next message is the answer.
    const followUp = await ask(telegram, user, 'and chapter 2?');
    expect(followUp.text).toBe('summary');
    const again = providers.requests.at(-1)?.messages.at(-1)?.content ?? '';
    expect(again.startsWith('and chapter 2?\n\nText of the PDF long.pdf')).toBe(true);
    expect(pdfTextOf(again)).toBe(text);
  });

  it('asks a follow-up about a PDF with its text read again; history keeps the question only', async () => {
    providers.reset();
    const reader = { id: 9603, first_name: 'Reader', language_code: 'en' };
    await ask(telegram, reader, '', {
      send: () =>
        telegram.sendDocument(reader, {
          fileName: 'notes.pdf',
          mimeType: 'application/pdf',
          content: pdfOf([['Budget: ۱۲۰ units']]),
          caption: 'read it',
        }),
    });
    const followUp = await ask(telegram, reader, 'what is the budget?');
    expect(followUp.text).toMatch(/^echo: what is the budget\?/);
    expect(providers.requests[1]?.messages.at(-1)?.content).toBe(
      'what is the budget?\n\nText of the PDF notes.pdf (one page):\n```\nBudget: ۱۲۰ units\n```',
    );
    await ask(telegram, reader, 'thanks');
    expect(turnsOf(providers.requests[2]).slice(2, 4)).toEqual([
      'user: what is the budget?',
      expect.stringMatching(/^assistant: echo: what is the budget\?/),
    ]);
  });

  it("tells, in the user's language, that a scan has no text and a broken PDF cannot be opened, asking no provider", async () => {
    providers.reset();
    const scan = await ask(telegram, user, '', {
      send: () =>
        telegram.sendDocument(user, { fileName: 'scan.pdf', mimeType: 'application/pdf', content: pdfOf(['scan']) }),
    });
    expect(scan.text).toBe(
      'That PDF has no text I can read: it looks like scanned pages. Please send the pages as photos, or the text itself.',
    );
    const broken = await ask(telegram, persian, '', {
      send: () =>
        telegram.sendDocument(persian, {
          fileName: 'x.pdf',
          mimeType: 'application/pdf',
          content: Buffer.from('%PDF-1.7\nnothing here\n'),
        }),
    });
    expect(broken.text).toBe('نتوانستم این PDF را باز کنم: شاید خراب باشد. لطفاً بررسی کن که باز می‌شود و دوباره بفرست.');
    expect(providers.requests).toEqual([]);
  });

  it('crashed nowhere and leaked nothing', () => {
    expect(crashRecords(bot)).toEqual([]);
    expect(suspiciousTexts(telegram)).toEqual([]);
  });
});
