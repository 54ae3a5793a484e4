import { describe, expect, it } from '@jest/globals';
import { countTokens } from '../../providers';
import { pdfTextTurn } from '../../bot/services/media';
import { capByTokens, cleanPdfText } from '../../bot/services/pdf-text';

/**
 * The pure parts of reading a PDF's text: cleaning what pdf.js gives (Persian presentation forms
 * back to letters, control characters out, spaces tidied, the zero-width non-joiner kept), the
 * token cap (whole pages while they fit, then part of the next, cut after a word), and the turn a
 * text-only model is sent. Reading itself runs in a worker: tests/integration/pdf-text.test.ts.
 */
describe('cleanPdfText', () => {
  it('turns joined Persian letter shapes and ligatures back into letters, keeps the non-joiner', () => {
    expect(cleanPdfText('ﺳﻼﻡ ﺩﻧﯿﺎ')).toBe('سلام دنیا');
    expect(cleanPdfText('ﬁnd the ﬂow')).toBe('find the flow');
    expect(cleanPdfText('می‌خواهم')).toBe('می‌خواهم');
    expect(cleanPdfText('صفحه ٔ دوم')).toBe('صفحهٔ دوم');
  });

  it('drops control characters and tidies spaces and blank lines', () => {
    expect(cleanPdfText('a\u0000b\u0007c  \t d \n\n\n\n e \n')).toBe('abc d\n\ne');
  });
});

describe('capByTokens', () => {
  const page = (index: number) => `Page ${index}: ${'lorem ipsum dolor sit amet '.repeat(20).trim()}`;

  it('keeps every page when they fit', () => {
    const capped = capByTokens([page(1), '', page(3)], 10_000);
    expect(capped).toMatchObject({ lastPage: 3, cut: false });
    expect(capped.text).toBe(`${page(1)}\n\n${page(3)}`);
    expect(capped.tokens).toBeGreaterThanOrEqual(countTokens(page(1)) + countTokens(page(3)));
  });

  it('keeps whole pages while they fit, then the start of the next, cut after a word', () => {
    const pages = Array.from({ length: 5 }, (_, index) => page(index + 1));
    const pageTokens = countTokens(pages[0] ?? '');
    const capped = capByTokens(pages, Math.floor(pageTokens * 2.5));
    expect(capped.cut).toBe(true);
    expect(capped.lastPage).toBe(3);
    expect(capped.tokens).toBeLessThanOrEqual(Math.floor(pageTokens * 2.5));
    expect(countTokens(capped.text)).toBeLessThanOrEqual(Math.floor(pageTokens * 2.5) + 2);
    const third = capped.text.split('\n\n')[2] ?? '';
    expect(page(3).startsWith(third)).toBe(true);
    expect(third.length).toBeGreaterThan(0);
    expect(third.length).toBeLessThan(page(3).length);
    // Cut after a word: what follows in the page starts with a space.
    expect(page(3).slice(third.length)).toMatch(/^ \S/);
  });

  it('cuts a first page longer than the cap, and keeps nothing for a cap of zero', () => {
    const long = 'word '.repeat(1000).trim();
    const capped = capByTokens([long], 50);
    expect(capped).toMatchObject({ lastPage: 1, cut: true });
    expect(countTokens(capped.text)).toBeLessThanOrEqual(50);
    expect(capByTokens([long], 0)).toMatchObject({ text: '', lastPage: 0, cut: true });
  });
});

describe('pdfTextTurn', () => {
  const reference = { kind: 'pdf', fileId: 'file-1', caption: 'summarise', fileName: 'report.pdf' } as const;

  it('sends the caption, the name, the pages read and the text in a fence; history keeps the stand-in', () => {
    const turn = pdfTextTurn(
      'report.pdf',
      { text: 'سلام\nworld', pages: 1, lastPage: 1, cut: false, tokens: 9 },
      reference,
    );
    expect(turn.sent).toEqual({
      role: 'user',
      content: 'summarise\n\nText of the PDF report.pdf (one page):\n```\nسلام\nworld\n```',
    });
    expect(turn.stored).toEqual({ role: 'user', content: '[PDF report.pdf] summarise', reference });
  });

  it('says which pages were read when the text was cut', () => {
    const cut = pdfTextTurn(
      'a.pdf',
      { text: 'x ``` y', pages: 40, lastPage: 12, cut: true, tokens: 6000 },
      {
        kind: 'pdf',
        fileId: 'f',
      },
    );
    expect(cut.sent.content).toBe(
      '(The user sent this PDF without a caption.)\n\nText of the PDF a.pdf (pages 1-12 of 40; the rest was not read):\n~~~~\nx ``` y\n~~~~',
    );
    expect(cut.stored).toEqual({
      role: 'user',
      content: '[PDF a.pdf]',
      reference: { kind: 'pdf', fileId: 'f', fileName: 'a.pdf' },
    });
    const onePage = pdfTextTurn(undefined, { text: 't', pages: 1, lastPage: 1, cut: true, tokens: 6000 }, reference);
    expect(onePage.sent.content).toContain('Text of the PDF (one page; cut off after 6000 tokens):');
  });
});
