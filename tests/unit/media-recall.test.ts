import { describe, expect, it } from '@jest/globals';
import { imageTypeOf } from '../../bot/features/media-download';
import { RECALL_WINDOW, recentImage } from '../../bot/services/chat';
import type { ChatMessage } from '../../providers/types';

/** Which photo a text turn is a follow-up about, and an image's type from its bytes. */
describe('recentImage', () => {
  const photo = (fileId: string): ChatMessage => ({
    role: 'user',
    content: '[photo] عکس',
    reference: { kind: 'image', fileId, caption: 'عکس' },
  });
  const text = (role: 'user' | 'assistant', content: string): ChatMessage => ({ role, content });

  it('finds the latest photo among the last two exchanges, and nothing older or of another kind', () => {
    expect(RECALL_WINDOW).toBe(4);
    expect(recentImage([photo('a'), text('assistant', 'a cat')])).toEqual({
      kind: 'image',
      fileId: 'a',
      caption: 'عکس',
    });
    expect(recentImage([photo('a'), text('assistant', '1'), photo('b'), text('assistant', '2')])?.fileId).toBe('b');
    expect(recentImage([photo('a'), text('assistant', '1'), text('user', 'q'), text('assistant', '2')])?.fileId).toBe(
      'a',
    );
    expect(
      recentImage([photo('a'), text('assistant', '1'), text('user', 'q'), text('assistant', '2'), text('user', 'r')]),
    ).toBeUndefined();
    const pdf: ChatMessage = { role: 'user', content: '[PDF a.pdf]', reference: { kind: 'pdf', fileId: 'p' } };
    expect(recentImage([pdf, text('assistant', 'a report')])).toBeUndefined();
    expect(recentImage([])).toBeUndefined();
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
