/**
 * Media parts on the wire: what every adapter needs to encode a part (base64, a data URL) and to
 * find the audio a transcription is for.
 */
import { type ChatMessage, type ChatRequest, type MediaPart, ProviderError } from '../types';

export function base64Of(part: MediaPart): string {
  return Buffer.from(part.data.buffer, part.data.byteOffset, part.data.byteLength).toString('base64');
}

/** `data:<mime>;base64,<data>`: how OpenAI-style image parts (and wire formats like them) carry bytes inline. */
export function dataUrlOf(part: MediaPart): string {
  return `data:${part.mimeType};base64,${base64Of(part)}`;
}

/** The audio part of the last user message: what a transcription is asked for. */
export function audioToTranscribe(provider: string, request: ChatRequest): MediaPart {
  const lastUser = request.messages.findLast((message: ChatMessage) => message.role === 'user');
  const audio = lastUser?.media?.find((part) => part.kind === 'audio');
  if (audio === undefined) {
    throw new ProviderError({ kind: 'bad_request', provider, message: 'the request has no audio to transcribe' });
  }
  return audio;
}

/** A file name for an upload: the part's own, or one with the extension of its type. */
export function fileNameOf(part: MediaPart): string {
  if (part.fileName !== undefined && part.fileName !== '') return part.fileName;
  const subtype = part.mimeType.split('/')[1]?.split(';')[0] ?? 'bin';
  return `${part.kind}.${subtype === 'mpeg' ? 'mp3' : subtype}`;
}

/** Refuses a part this wire format has no way to send (the router never sends one: a safeguard). */
export function unsendable(provider: string, part: MediaPart): ProviderError {
  return new ProviderError({
    kind: 'bad_request',
    provider,
    message: `this model's wire format cannot carry ${part.kind} (${part.mimeType})`,
  });
}
