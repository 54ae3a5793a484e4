import type { IncomingMessage } from 'node:http';
import { fail, telegramErrors } from './errors';

/** Parameters of one Bot API call, whichever way they were sent (query string, JSON, form, multipart). */
export type Params = Record<string, unknown>;

/** A file part of a multipart upload, as recorded, with its bytes. */
export interface UploadedFile {
  readonly filename: string;
  readonly contentType: string | undefined;
  readonly size: number;
  readonly content: Buffer;
}

export function isUploadedFile(value: unknown): value is UploadedFile {
  return typeof value === 'object' && value !== null && Buffer.isBuffer((value as { content?: unknown }).content);
}

/**
 * Fields that hold JSON-serialized objects when sent as strings (query string, form, multipart —
 * grammY serializes objects this way whenever it must upload a file). Other fields stay strings,
 * so a text such as "[1,2]" is never mistaken for an array.
 */
const JSON_FIELDS = new Set([
  'reply_markup',
  'reply_parameters',
  'entities',
  'caption_entities',
  'link_preview_options',
  'allowed_updates',
  'commands',
  'scope',
  'reaction',
  'media',
]);

export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (part: Buffer) => parts.push(part));
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

/** Parses a request's parameters like the Bot API does; throws a TelegramError for a body it cannot read. */
export function parseParams(contentType: string | undefined, body: Buffer, query: URLSearchParams): Params {
  const params: Params = Object.fromEntries(query);
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (body.length > 0) {
    if (type === 'application/json') {
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch {
        fail(telegramErrors.cantParseJson());
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) fail(telegramErrors.cantParseJson());
      Object.assign(params, parsed);
    } else if (type === 'application/x-www-form-urlencoded') {
      Object.assign(params, Object.fromEntries(new URLSearchParams(body.toString('utf8'))));
    } else if (type === 'multipart/form-data') {
      const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType ?? '');
      const marker = boundary?.[1] ?? boundary?.[2];
      if (marker === undefined) fail(telegramErrors.cantParseJson());
      Object.assign(params, parseMultipart(body, marker.trim()));
    }
  }
  for (const [key, value] of Object.entries(params)) {
    if (JSON_FIELDS.has(key) && typeof value === 'string') {
      try {
        params[key] = JSON.parse(value);
      } catch {
        // Telegram would reject it; keep the raw string so the handler's validation names the field.
      }
    }
  }
  return params;
}

function parseMultipart(body: Buffer, boundary: string): Params {
  const params: Params = {};
  const delimiter = Buffer.from(`--${boundary}`);
  let position = body.indexOf(delimiter);
  while (position !== -1) {
    const start = position + delimiter.length;
    if (body.subarray(start, start + 2).toString() === '--') break; // closing delimiter
    const next = body.indexOf(delimiter, start);
    if (next === -1) break;
    // Each part: CRLF, headers, CRLF CRLF, content, CRLF (before the next delimiter).
    const part = body.subarray(start + 2, next - 2);
    const headerEnd = part.indexOf('\r\n\r\n');
    if (headerEnd !== -1) {
      const headers = part.subarray(0, headerEnd).toString('utf8');
      const content = part.subarray(headerEnd + 4);
      // grammY writes `filename=a.txt` unquoted; browsers and curl quote it.
      const name = /(?:^|[;\s])name="([^"]*)"/i.exec(headers)?.[1];
      const filenameMatch = /(?:^|[;\s])filename=(?:"([^"]*)"|([^;\r\n]*))/i.exec(headers);
      const filename = filenameMatch === null ? undefined : (filenameMatch[1] ?? filenameMatch[2] ?? '').trim();
      const partType = /content-type:\s*([^\r\n]+)/i.exec(headers)?.[1];
      if (name !== undefined) {
        params[name] =
          filename === undefined
            ? content.toString('utf8')
            : ({
                filename,
                contentType: partType,
                size: content.length,
                content: Buffer.from(content),
              } satisfies UploadedFile);
      }
    }
    position = next;
  }
  return params;
}

/** An integer parameter, sent as a number or a numeric string; undefined when absent or not an integer. */
export function integerParam(params: Params, name: string): number | undefined {
  const value = params[name];
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  if (typeof value === 'string' && /^-?\d+$/.test(value.trim())) {
    const parsed = Number(value.trim());
    return Number.isSafeInteger(parsed) ? parsed : undefined;
  }
  return undefined;
}

/** A string parameter (numbers are accepted and stringified, as the Bot API does). */
export function stringParam(params: Params, name: string): string | undefined {
  const value = params[name];
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

export function booleanParam(params: Params, name: string): boolean {
  const value = params[name];
  return value === true || value === 'true' || value === '1' || value === 1;
}
