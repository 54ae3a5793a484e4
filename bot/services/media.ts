import type { MediaPart, MediaReference, RouteInfo, Router } from '../../providers';
import type { ChatMessage } from '../../providers';
import type { PdfText } from './pdf-text';

/**
 * Media as turns of a conversation: what is sent to a model with a photo, what history keeps of it
 * instead of its bytes, and transcription of voice notes through the pool.
 */

/** What a model is sent with a photo that came without a caption. */
export const UNCAPTIONED_PHOTO = '(The user sent this photo without a caption.)';

/** Longest caption kept in a stand-in (the rest is cut with an ellipsis). */
const STAND_IN_CAPTION_CHARS = 500;

/** A photo or image turn: the turn sent to a vision model, and the one history keeps. */
export interface MediaTurn {
  readonly sent: ChatMessage;
  readonly stored: ChatMessage;
}

/**
 * The turn of an image with an optional caption. The model gets the image with the caption (or a
 * note that there was none); history gets a short text stand-in and the Telegram file id, never the
 * bytes, so a text-only model later still knows a photo was discussed.
 */
export function imageTurn(image: MediaPart, reference: MediaReference): MediaTurn {
  const caption = reference.caption?.trim() ?? '';
  const shortCaption =
    caption.length > STAND_IN_CAPTION_CHARS ? `${caption.slice(0, STAND_IN_CAPTION_CHARS)}…` : caption;
  return {
    sent: { role: 'user', content: caption === '' ? UNCAPTIONED_PHOTO : caption, media: [image] },
    stored: {
      role: 'user',
      content: caption === '' ? '[photo]' : `[photo] ${shortCaption}`,
      reference: caption === '' ? { kind: reference.kind, fileId: reference.fileId } : reference,
    },
  };
}

/** What a model is sent with a PDF that came without a caption. */
export const UNCAPTIONED_PDF = '(The user sent this PDF without a caption.)';

/**
 * The turn of a PDF, for a model that takes PDFs: the document inline with the caption; history
 * keeps `[PDF <name>] <caption>` and the file id.
 */
export function pdfTurn(pdf: MediaPart, reference: MediaReference): MediaTurn {
  const caption = reference.caption?.trim() ?? '';
  return {
    sent: { role: 'user', content: caption === '' ? UNCAPTIONED_PDF : caption, media: [pdf] },
    stored: pdfStandIn(pdf.fileName, reference),
  };
}

/**
 * The turn of a PDF whose text was extracted (for models that take text only): the caption, then
 * the file's name, the pages read and the text in a fenced block. History keeps what it keeps of
 * an inline PDF: `[PDF <name>] <caption>` and the file id.
 */
export function pdfTextTurn(fileName: string | undefined, text: PdfText, reference: MediaReference): MediaTurn {
  const caption = reference.caption?.trim() ?? '';
  const question = caption === '' ? UNCAPTIONED_PDF : caption;
  const pages =
    text.cut && text.lastPage < text.pages
      ? `pages 1-${text.lastPage} of ${text.pages}; the rest was not read`
      : text.cut
        ? `${text.pages === 1 ? 'one page' : `${text.pages} pages`}; cut off after ${text.tokens} tokens`
        : text.pages === 1
          ? 'one page'
          : `${text.pages} pages`;
  const fence = text.text.includes('```') ? '~~~~' : '```';
  return {
    sent: {
      role: 'user',
      content: `${question}\n\nText of the PDF${fileName === undefined ? '' : ` ${fileName}`} (${pages}):\n${fence}\n${text.text}\n${fence}`,
    },
    stored: pdfStandIn(fileName, reference),
  };
}

/** What history keeps of a PDF: `[PDF <name>] <caption>` and its reference, never its bytes or text. */
function pdfStandIn(fileName: string | undefined, reference: MediaReference): ChatMessage {
  const caption = reference.caption?.trim() ?? '';
  const name = fileName === undefined ? '' : ` ${fileName}`;
  const shortCaption =
    caption.length > STAND_IN_CAPTION_CHARS ? `${caption.slice(0, STAND_IN_CAPTION_CHARS)}…` : caption;
  return {
    role: 'user',
    content: `[PDF${name}]${shortCaption === '' ? '' : ` ${shortCaption}`}`,
    reference: {
      kind: reference.kind,
      fileId: reference.fileId,
      ...(caption === '' ? {} : { caption }),
      ...(fileName === undefined ? {} : { fileName }),
    },
  };
}

/**
 * A text file as a chat turn: the caption, then the file's name and its text in a fenced block.
 * It is text, so it is sent to any chat model and kept in history like a long message.
 */
export function textFileTurn(fileName: string, text: string, caption: string): string {
  const fence = text.includes('```') ? '~~~~' : '```';
  const question = caption.trim() === '' ? 'The user sent this file without a caption.' : caption.trim();
  return `${question}\n\nFile ${fileName}:\n${fence}\n${text.replace(/\s+$/, '')}\n${fence}`;
}

/**
 * The text of a file, or `undefined` when it is not UTF-8 text (a NUL byte or an invalid
 * sequence says it is binary, whatever its name).
 */
export function decodeText(data: Uint8Array): string | undefined {
  if (data.includes(0)) return undefined;
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(data);
  } catch {
    return undefined;
  }
}

/**
 * Pages of a PDF, counted from its page objects (`/Type /Page`); `undefined` when none is visible
 * (they may sit in compressed object streams). An estimate for a cap, not a parser.
 */
export function pdfPageCount(data: Uint8Array): number | undefined {
  const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('latin1');
  const pages = text.match(/\/Type\s*\/Page(?![a-zA-Z])/g)?.length ?? 0;
  return pages === 0 ? undefined : pages;
}

export interface Transcript extends RouteInfo {
  readonly text: string;
}

/** What a vision model is asked for the text in an image (/translate on a photo without a caption). */
export const READ_IMAGE_TEXT_PROMPT = [
  'Transcribe all text visible in this image exactly as written, in its original language and script,',
  'one line per line of text. Do not translate, describe or explain anything.',
  'If the image has no text, reply with nothing.',
].join(' ');

/** The most text read from an image (output tokens). */
const READ_IMAGE_TEXT_MAX_TOKENS = 1024;

export interface ImageText extends RouteInfo {
  readonly text: string;
}

export class MediaService {
  constructor(private readonly router: Router) {}

  /** Whether the pool has a model that takes images (checked before downloading one). */
  get seesImages(): boolean {
    return this.router.offers('chat', ['text', 'image']);
  }

  /** Whether the pool has a model that takes PDFs. */
  get readsPdfs(): boolean {
    return this.router.offers('chat', ['text', 'pdf']);
  }

  /** Whether the pool has a model that transcribes audio (checked before downloading a voice note). */
  get hearsAudio(): boolean {
    return this.router.offers('transcription', ['audio']);
  }

  /** The text written in `image`, read by the first vision model of the pool that answers ('' when none). */
  async readText(image: MediaPart, options: { readonly signal?: AbortSignal } = {}): Promise<ImageText> {
    const result = await this.router.complete({
      messages: [{ role: 'user', content: READ_IMAGE_TEXT_PROMPT, media: [image] }],
      maxOutputTokens: READ_IMAGE_TEXT_MAX_TOKENS,
      temperature: 0,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    return trimmedWithRoute(result);
  }

  /** What is said in `audio`, from the first model of the pool that transcribes and answers. */
  async transcribe(audio: MediaPart, options: { readonly signal?: AbortSignal } = {}): Promise<Transcript> {
    const result = await this.router.transcribe({
      messages: [{ role: 'user', content: '', media: [audio] }],
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    return trimmedWithRoute(result);
  }
}

/** A routed answer's text, trimmed, with who answered it (and nothing else of the result). */
function trimmedWithRoute(result: RouteInfo & { readonly text: string }): RouteInfo & { readonly text: string } {
  return {
    text: result.text.trim(),
    provider: result.provider,
    model: result.model,
    keyId: result.keyId,
    maskedKey: result.maskedKey,
    failedAttempts: result.failedAttempts,
  };
}
