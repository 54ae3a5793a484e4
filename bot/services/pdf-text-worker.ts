import { parentPort, workerData } from 'node:worker_threads';
import { getDocumentProxy } from 'unpdf';

/**
 * The text layer of a PDF, read in a worker thread (`pdf-text.ts` starts it with a memory limit
 * and a time limit, so a hostile or huge PDF costs the worker, never the bot). pdf.js (through
 * unpdf's serverless build) reads the pages in order and stops at `maxPages` or once `maxChars`
 * characters are read; right-to-left runs come back in logical order.
 */

export interface PdfTextJob {
  readonly data: Uint8Array;
  readonly maxPages: number;
  readonly maxChars: number;
}

export type PdfTextReply =
  | { readonly ok: true; readonly pages: number; readonly texts: readonly string[] }
  | { readonly ok: false; readonly reason: 'encrypted' | 'unreadable' | 'too_complex'; readonly detail: string };

interface TextItem {
  readonly str?: string;
  readonly hasEOL?: boolean;
}

async function read(job: PdfTextJob): Promise<PdfTextReply> {
  let document: Awaited<ReturnType<typeof getDocumentProxy>>;
  try {
    document = await getDocumentProxy(job.data, {
      // Errors only: pdf.js warns about every font it does not embed.
      verbosity: 0,
      isEvalSupported: false,
      disableFontFace: true,
      useSystemFonts: false,
      stopAtErrors: false,
    });
  } catch (error) {
    const name = error instanceof Error ? error.name : 'Error';
    return { ok: false, reason: name === 'PasswordException' ? 'encrypted' : 'unreadable', detail: name };
  }
  try {
    const texts: string[] = [];
    let chars = 0;
    const last = Math.min(document.numPages, job.maxPages);
    for (let number = 1; number <= last && chars < job.maxChars; number += 1) {
      const page = await document.getPage(number);
      const content = await page.getTextContent();
      const text = (content.items as TextItem[])
        .map((item) => `${item.str ?? ''}${item.hasEOL === true ? '\n' : ''}`)
        .join('');
      texts.push(text);
      chars += text.length;
      page.cleanup();
    }
    return { ok: true, pages: document.numPages, texts };
  } catch (error) {
    return { ok: false, reason: 'unreadable', detail: error instanceof Error ? error.name : 'Error' };
  } finally {
    await document.destroy().catch(() => undefined);
  }
}

if (parentPort !== null) {
  const port = parentPort;
  read(workerData as PdfTextJob).then(
    (reply) => port.postMessage(reply),
    (error: unknown) =>
      port.postMessage({
        ok: false,
        reason: 'unreadable',
        detail: error instanceof Error ? error.name : 'Error',
      } satisfies PdfTextReply),
  );
}
