import path from 'node:path';
import { createDeflate, deflateSync } from 'node:zlib';
import { describe, expect, it } from '@jest/globals';
import type * as PdfTextModule from '../../bot/services/pdf-text';
import { DIST } from '../helpers/built';
import { pdfOf } from '../helpers/pdf';

/**
 * Reading a PDF's text for real: the built module (`dist/`, as the bot runs it) starts its worker
 * thread, which reads the PDF with unpdf's pdf.js. Persian drawn right to left comes back in
 * logical order; a scan, a broken file, a password, too many pages, too many tokens, too much
 * memory and too much time each end in their own way, and the process goes on.
 */
const { extractPdfText, PDF_TEXT_LIMITS } = require(
  path.join(DIST, 'bot/services/pdf-text.js'),
) as typeof PdfTextModule;

const failureOf = async (promise: Promise<unknown>): Promise<string> => {
  try {
    await promise;
  } catch (error) {
    return `${(error as Error).name}: ${(error as { reason?: string }).reason}`;
  }
  return 'no failure';
};

/** A PDF whose one content stream inflates to `megabytes` of spaces, compressed twice (a few KB). */
async function deflateBomb(megabytes: number): Promise<Buffer> {
  const deflate = createDeflate({ level: 9 });
  const parts: Buffer[] = [];
  deflate.on('data', (part: Buffer) => parts.push(part));
  const done = new Promise((resolve) => deflate.on('end', resolve));
  const chunk = Buffer.alloc(16 * 1024 * 1024, 0x20);
  for (let written = 0; written < megabytes; written += 16) {
    if (!deflate.write(chunk)) await new Promise((resolve) => deflate.once('drain', resolve));
  }
  deflate.end();
  await done;
  const body = deflateSync(Buffer.concat(parts), { level: 9 });
  return Buffer.concat([
    Buffer.from(
      '%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n' +
        '3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >> endobj\n' +
        `4 0 obj << /Length ${body.length} /Filter [/FlateDecode /FlateDecode] >>\nstream\n`,
      'latin1',
    ),
    body,
    Buffer.from('\nendstream\nendobj\ntrailer << /Root 1 0 R >>\n%%EOF\n', 'latin1'),
  ]);
}

describe('extractPdfText (built, in its worker)', () => {
  it('reads the pages of a text PDF in order', async () => {
    const text = await extractPdfText(pdfOf([['Quarterly report', 'Revenue grew'], ['Second page']]));
    expect(text).toEqual({
      text: 'Quarterly report\nRevenue grew\n\nSecond page',
      pages: 2,
      lastPage: 2,
      cut: false,
      tokens: expect.any(Number),
    });
  });

  it('gives Persian drawn right to left back in logical order, joined letter shapes as letters', async () => {
    const persian = await extractPdfText(pdfOf([['سلام دنیا', 'این یک آزمایش است'], ['صفحهٔ دوم می‌خواهم']]));
    // pdf.js leaves out the zero-width non-joiner (می‌خواهم comes as میخواهم); the ezafe stays on its word.
    expect(persian.text).toBe('سلام دنیا\nاین یک آزمایش است\n\nصفحهٔ دوم میخواهم');
    // The same words mapped to presentation forms, as some PDF writers do.
    const shaped = await extractPdfText(pdfOf([['ﺳﻼﻡ ﺩﻧﯿﺎ']]));
    expect(shaped.text).toBe('سلام دنیا');
  });

  it('says a scan has no text, and a file that is not a PDF cannot be read', async () => {
    expect(await failureOf(extractPdfText(pdfOf(['scan', 'scan'])))).toBe('PdfTextError: no_text');
    expect(await failureOf(extractPdfText(Buffer.from('%PDF-1.7\nnot really a PDF\n')))).toBe(
      'PdfTextError: unreadable',
    );
  });

  it('says a PDF that needs a password is locked', async () => {
    const hex = (byte: string) => byte.repeat(64);
    const locked = Buffer.from(
      pdfOf([['secret']])
        .toString('latin1')
        .replace(
          /trailer\n<< /,
          `trailer\n<< /Encrypt << /Filter /Standard /V 1 /R 2 /O <${hex('a')}> /U <${hex('b')}> /P -4 >> /ID [<${hex('c').slice(0, 32)}> <${hex('c').slice(0, 32)}>] `,
        ),
      'latin1',
    );
    expect(await failureOf(extractPdfText(locked))).toBe('PdfTextError: encrypted');
  });

  it('reads at most maxPages pages and at most maxTokens tokens, and says so', async () => {
    const pages = Array.from({ length: 12 }, (_, index) => [`Page ${index + 1} of the book`]);
    expect(await extractPdfText(pdfOf(pages), { ...PDF_TEXT_LIMITS, maxPages: 5 })).toMatchObject({
      pages: 12,
      lastPage: 5,
      cut: true,
    });
    const long = Array.from({ length: 12 }, (_, index) => [
      `Chapter ${index + 1}`,
      ...Array.from({ length: 40 }, () => 'lorem ipsum dolor sit amet consectetur adipiscing elit'),
    ]);
    const capped = await extractPdfText(pdfOf(long), { ...PDF_TEXT_LIMITS, maxTokens: 1_500 });
    expect(capped.cut).toBe(true);
    expect(capped.tokens).toBeLessThanOrEqual(1_500);
    expect(capped.lastPage).toBeLessThan(12);
    expect(capped.text).toContain('Chapter 1\n');
    expect(capped.text).not.toContain('Chapter 12');
  });

  it('ends a read that takes too long or inflates past its memory, and the process goes on', async () => {
    const pdf = pdfOf([['quick']]);
    expect(await failureOf(extractPdfText(pdf, { ...PDF_TEXT_LIMITS, timeoutMs: 1 }))).toBe(
      'PdfTextError: too_complex',
    );
    const bomb = await deflateBomb(768);
    expect(bomb.length).toBeLessThan(100_000);
    expect(await failureOf(extractPdfText(bomb, { ...PDF_TEXT_LIMITS, maxMemoryMb: 128 }))).toBe(
      'PdfTextError: too_complex',
    );
    expect((await extractPdfText(pdf)).text).toBe('quick');
  }, 60_000);
});
