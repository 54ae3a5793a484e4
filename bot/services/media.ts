import type { MediaPart, MediaReference, RouteInfo, Router } from '../../providers';
import type { ChatMessage } from '../../providers';

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

export interface Transcript extends RouteInfo {
  readonly text: string;
}

export class MediaService {
  constructor(private readonly router: Router) {}

  /** Whether the pool has a model that takes images (checked before downloading one). */
  get seesImages(): boolean {
    return this.router.offers('chat', ['text', 'image']);
  }

  /** Whether the pool has a model that transcribes audio (checked before downloading a voice note). */
  get hearsAudio(): boolean {
    return this.router.offers('transcription', ['audio']);
  }

  /** What is said in `audio`, from the first model of the pool that transcribes and answers. */
  async transcribe(audio: MediaPart, options: { readonly signal?: AbortSignal } = {}): Promise<Transcript> {
    const result = await this.router.transcribe({
      messages: [{ role: 'user', content: '', media: [audio] }],
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    return {
      text: result.text.trim(),
      provider: result.provider,
      model: result.model,
      keyId: result.keyId,
      maskedKey: result.maskedKey,
      failedAttempts: result.failedAttempts,
    };
  }
}
