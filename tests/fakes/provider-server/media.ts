import type { ProviderDescriptor } from '../../../providers/types';
import type { RecordedMedia } from './types';

/**
 * Media parts as the fake receives them: decoded and checked (never kept), and what each model of
 * the registry takes, so that a fake provider refuses a part its model could not take.
 */

/**
 * Video containers whose sound the transcription endpoints take (docs/providers.md, video notes):
 * audio, as far as a fake model is concerned. Other videos are not.
 */
const SOUND_CONTAINERS = new Set(['video/mp4', 'video/mpeg', 'video/webm']);

export function kindOfMime(mimeType: string): RecordedMedia['kind'] {
  if (mimeType.startsWith('image/')) return 'image';
  if (mimeType.startsWith('audio/') || SOUND_CONTAINERS.has(mimeType)) return 'audio';
  if (mimeType === 'application/pdf') return 'pdf';
  return 'other';
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Inline bytes in base64 (an `inline_data` part, the payload of a data URL). */
export function base64Media(mimeType: string, data: unknown, message?: number): RecordedMedia {
  const text = typeof data === 'string' ? data : '';
  const valid = text !== '' && text.length % 4 === 0 && BASE64.test(text);
  const bytes = valid ? Buffer.from(text, 'base64') : Buffer.alloc(0);
  return {
    kind: kindOfMime(mimeType),
    mimeType,
    bytes: bytes.length,
    head: bytes.subarray(0, 4).toString('hex'),
    valid: valid && bytes.length > 0,
    ...(message === undefined ? {} : { message }),
  };
}

/** `data:<mime>;base64,<data>`; anything else (a remote URL included: the bot never sends one) is invalid. */
export function dataUrlMedia(url: unknown, message?: number): RecordedMedia {
  const match = typeof url === 'string' ? /^data:([a-z]+\/[a-z0-9.+-]+);base64,(.*)$/is.exec(url) : null;
  if (match === null) {
    return {
      kind: 'other',
      mimeType: '',
      bytes: 0,
      head: '',
      valid: false,
      ...(message === undefined ? {} : { message }),
    };
  }
  return base64Media(match[1] ?? '', match[2], message);
}

/** Raw bytes of an uploaded file. */
export function uploadedMedia(mimeType: string, content: Buffer): RecordedMedia {
  return {
    kind: kindOfMime(mimeType),
    mimeType,
    bytes: content.length,
    head: content.subarray(0, 4).toString('hex'),
    valid: content.length > 0,
  };
}

export interface MultipartPart {
  readonly name: string;
  readonly filename: string | undefined;
  readonly contentType: string | undefined;
  readonly content: Buffer;
}

/** The parts of a `multipart/form-data` body. */
export function parseMultipart(body: Buffer, contentType: string | undefined): MultipartPart[] {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType ?? '');
  const marker = (boundary?.[1] ?? boundary?.[2])?.trim();
  if (marker === undefined) return [];
  const delimiter = Buffer.from(`--${marker}`);
  const parts: MultipartPart[] = [];
  let position = body.indexOf(delimiter);
  while (position !== -1) {
    const start = position + delimiter.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    const next = body.indexOf(delimiter, start);
    if (next === -1) break;
    const part = body.subarray(start + 2, next - 2);
    const headerEnd = part.indexOf('\r\n\r\n');
    if (headerEnd !== -1) {
      const headers = part.subarray(0, headerEnd).toString('utf8');
      const name = /(?:^|[;\s])name="([^"]*)"/i.exec(headers)?.[1];
      const filename = /(?:^|[;\s])filename="([^"]*)"/i.exec(headers)?.[1];
      const partType = /content-type:\s*([^\r\n]+)/i.exec(headers)?.[1]?.trim();
      if (name !== undefined) {
        parts.push({ name, filename, contentType: partType, content: part.subarray(headerEnd + 4) });
      }
    }
    position = next;
  }
  return parts;
}

/**
 * The kinds of media a model of `descriptor` takes, by the capabilities the registry declares for
 * its default models (the chat model, each role's model); a model it does not know takes none.
 */
export function modelTakesFor(descriptor: ProviderDescriptor): (model: string | undefined, kind: string) => boolean {
  const inputs = new Map<string, Set<string>>();
  const add = (model: string, kinds: readonly string[]) => {
    const known = inputs.get(model) ?? new Set<string>();
    for (const kind of kinds) known.add(kind);
    inputs.set(model, known);
  };
  add(descriptor.defaultModel, descriptor.chatCapabilities?.inputs ?? ['text']);
  for (const offer of Object.values(descriptor.roles ?? {})) {
    add(offer?.defaultModel ?? descriptor.defaultModel, offer?.inputs ?? []);
  }
  return (model, kind) => inputs.get(model ?? descriptor.defaultModel)?.has(kind) ?? false;
}
