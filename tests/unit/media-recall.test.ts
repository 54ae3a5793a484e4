import { describe, expect, it } from '@jest/globals';
import { imageTypeOf } from '../../bot/features/media-download';
import { RECALL_WINDOW, recentMedia } from '../../bot/services/chat';
import type { ChatMessage } from '../../providers/types';

/** Which photo or PDF a text turn is a follow-up about, and an image's type from its bytes. */
describe('recentMedia', () => {
  const photo = (fileId: string): ChatMessage => ({
    role: 'user',
    content: '[photo] عکس',
    reference: { kind: 'image', fileId, caption: 'عکس' },
  });
  const text = (role: 'user' | 'assistant', content: string): ChatMessage => ({ role, content });

  it('finds the latest photo or PDF among the last two exchanges, and nothing older or of another kind', () => {
    expect(RECALL_WINDOW).toBe(4);
    expect(recentMedia([photo('a'), text('assistant', 'a cat')])).toEqual({
      kind: 'image',
      fileId: 'a',
      caption: 'عکس',
    });
    expect(recentMedia([photo('a'), text('assistant', '1'), photo('b'), text('assistant', '2')])?.fileId).toBe('b');
    expect(recentMedia([photo('a'), text('assistant', '1'), text('user', 'q'), text('assistant', '2')])?.fileId).toBe(
      'a',
    );
    expect(
      recentMedia([photo('a'), text('assistant', '1'), text('user', 'q'), text('assistant', '2'), text('user', 'r')]),
    ).toBeUndefined();
    const pdf: ChatMessage = { role: 'user', content: '[PDF a.pdf]', reference: { kind: 'pdf', fileId: 'p' } };
    expect(recentMedia([pdf, text('assistant', 'a report')])?.fileId).toBe('p');
    expect(recentMedia([photo('a'), text('assistant', '1'), pdf, text('assistant', '2')])?.fileId).toBe('p');
    expect(recentMedia([pdf, text('assistant', '1'), photo('a'), text('assistant', '2')])?.fileId).toBe('a');
    // A voice note is kept as its transcript: nothing to fetch again.
    const voice: ChatMessage = { role: 'user', content: 'سلام', reference: { kind: 'audio', fileId: 'v' } };
    expect(recentMedia([voice, text('assistant', 'hi')])).toBeUndefined();
    expect(recentMedia([])).toBeUndefined();
  });
});

describe('imageTypeOf', () => {
  it('tells JPEG, PNG and WebP from their first bytes, and nothing else', () => {
    expect(imageTypeOf(new Uint8Array([0xff, 0xd8, 0xff, 0xe0]))).toBe('image/jpeg');
    expect(imageTypeOf(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a]))).toBe('image/png');
    expect(imageTypeOf(new Uint8Array(Buffer.from('RIFF\x10\x00\x00\x00WEBPVP8 ', 'latin1')))).toBe('image/webp');
    expect(imageTypeOf(new Uint8Array(Buffer.from('OggS\x00\x02', 'latin1')))).toBeUndefined();
    expect(imageTypeOf(new Uint8Array([]))).toBeUndefined();
  });
});
