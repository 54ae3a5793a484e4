import { GrammyError } from 'grammy';
import { type MediaPart, type MediaReference, transportFetch } from '../../providers';
import type { BotContext } from '../context';
import { sendPlain } from '../reply';

/** Telegram lets bots download files of at most 20 MB (getFile refuses larger ones). */
export const MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024;

/** How long one download may take. */
const DOWNLOAD_TIMEOUT_MS = 30_000;

/** Why a file could not be fetched: too large for bots to download, or the download failed. */
export class DownloadError extends Error {
  override readonly name = 'DownloadError';

  constructor(
    readonly reason: 'too_large' | 'failed',
    message: string,
    readonly sizeBytes?: number,
  ) {
    super(message);
  }
}

/**
 * A file a user sent, through `getFile` and the file path it gives
 * (`<api root>/file/bot<token>/<file_path>`). The URL holds the bot token: it is never logged, and
 * errors say only what happened.
 */
export async function downloadFile(ctx: BotContext, fileId: string, knownSize?: number): Promise<Uint8Array> {
  if (knownSize !== undefined && knownSize > MAX_DOWNLOAD_BYTES) {
    throw new DownloadError('too_large', 'the file is over the 20 MB bots may download', knownSize);
  }
  let filePath: string | undefined;
  let size: number | undefined;
  try {
    const file = await ctx.api.getFile(fileId);
    filePath = file.file_path;
    size = file.file_size;
  } catch (error) {
    if (error instanceof GrammyError && /file is too big/i.test(error.description)) {
      throw new DownloadError('too_large', 'Telegram refused the file as too big', knownSize);
    }
    throw new DownloadError('failed', `getFile failed: ${describe(error)}`);
  }
  if (size !== undefined && size > MAX_DOWNLOAD_BYTES) {
    throw new DownloadError('too_large', 'the file is over the 20 MB bots may download', size);
  }
  if (filePath === undefined) throw new DownloadError('failed', 'getFile gave no file path');
  const config = ctx.deps.config;
  const url = `${config.telegramApiRoot}/file/bot${config.botToken}/${filePath}`;
  let response: Response;
  try {
    response = await transportFetch(url, { signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS) });
  } catch (error) {
    throw new DownloadError('failed', `the download failed: ${error instanceof Error ? error.name : 'error'}`);
  }
  if (!response.ok) {
    await response.arrayBuffer().catch(() => undefined);
    throw new DownloadError('failed', `the download answered HTTP ${response.status}`);
  }
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (bytes.byteLength > MAX_DOWNLOAD_BYTES) {
    throw new DownloadError('too_large', 'the download is over 20 MB', bytes.byteLength);
  }
  if (bytes.byteLength === 0) throw new DownloadError('failed', 'the download was empty');
  return bytes;
}

function describe(error: unknown): string {
  if (error instanceof GrammyError) return `${error.error_code} ${error.description}`;
  return error instanceof Error ? error.name : 'error';
}

/**
 * A file's bytes through `downloadFile`, or `undefined` once the user was told, in their language,
 * why it could not be fetched (too large, or the download failed).
 */
export async function downloadOrTell(
  ctx: BotContext,
  fileId: string,
  knownSize?: number,
): Promise<Uint8Array | undefined> {
  try {
    return await downloadFile(ctx, fileId, knownSize);
  } catch (error) {
    if (!(error instanceof DownloadError)) throw error;
    ctx.log.warn({ reason: error.reason, err: error.message, bytes: error.sizeBytes }, 'file not downloaded');
    await sendPlain(
      ctx,
      error.reason === 'too_large'
        ? ctx.t.media.tooLarge(Math.ceil((error.sizeBytes ?? 0) / (1024 * 1024)) || 21)
        : ctx.t.media.downloadFailed,
    );
    return undefined;
  }
}

/** The type of an image from its first bytes (history keeps a photo's file id, not its type). */
export function imageTypeOf(data: Uint8Array): string | undefined {
  if (data[0] === 0xff && data[1] === 0xd8) return 'image/jpeg';
  if (data[0] === 0x89 && data[1] === 0x50 && data[2] === 0x4e && data[3] === 0x47) return 'image/png';
  const tag = (from: number): string => String.fromCharCode(...data.subarray(from, from + 4));
  if (tag(0) === 'RIFF' && tag(8) === 'WEBP') return 'image/webp';
  return undefined;
}

/**
 * Fetches again the image of a photo kept in history (for a follow-up question about it), or
 * `undefined`, logged, when Telegram no longer gives it or it is not an image a model takes.
 */
export function imageRecaller(ctx: BotContext): (reference: MediaReference) => Promise<MediaPart | undefined> {
  return async (reference) => {
    try {
      const data = await downloadFile(ctx, reference.fileId);
      const mimeType = imageTypeOf(data);
      if (mimeType === undefined) {
        ctx.log.warn('the recalled photo is not an image a model takes; answering from its stand-in');
        return undefined;
      }
      return { kind: 'image', mimeType, data };
    } catch (error) {
      if (!(error instanceof DownloadError)) throw error;
      ctx.log.warn({ reason: error.reason, err: error.message }, 'photo of the conversation not fetched again');
      return undefined;
    }
  };
}
