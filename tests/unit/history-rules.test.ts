import { describe, expect, it } from '@jest/globals';
import { parseStoredMessage, serializeStoredMessage } from '../../storage/history-rules';

describe('stored history messages', () => {
  it('round-trips role, content and token count, Persian and mixed scripts intact', () => {
    const message = { role: 'user' as const, content: 'کتاب‌ها ۱۲۳ and 456 — سلام!', tokens: 21 };
    expect(parseStoredMessage(serializeStoredMessage(message))).toEqual(message);
    expect(parseStoredMessage(serializeStoredMessage({ role: 'assistant', content: 'درود' }))).toEqual({
      role: 'assistant',
      content: 'درود',
    });
  });

  it('reads messages stored before token counts were kept', () => {
    expect(parseStoredMessage('{"role":"user","content":"hi"}')).toEqual({ role: 'user', content: 'hi' });
  });

  it('drops a token count that cannot be one, keeping the message (it is counted again)', () => {
    for (const tokens of ['12', -1, 1.5, null, 1e300]) {
      expect(parseStoredMessage(JSON.stringify({ role: 'user', content: 'hi', tokens }))).toEqual({
        role: 'user',
        content: 'hi',
      });
    }
  });

  it('keeps the reference of the media a message stood for, never media bytes, and drops a malformed one', () => {
    const photo = {
      role: 'user' as const,
      content: '[photo] what is this?',
      tokens: 9,
      reference: { kind: 'image' as const, fileId: 'AgACAgQAAxkBAAIB', caption: 'what is this?' },
    };
    expect(parseStoredMessage(serializeStoredMessage(photo))).toEqual(photo);
    const withBytes = {
      ...photo,
      media: [{ kind: 'image' as const, mimeType: 'image/jpeg', data: new Uint8Array(3) }],
    };
    expect(serializeStoredMessage(withBytes)).not.toContain('media');
    for (const reference of [{ kind: 'video', fileId: 'x' }, { kind: 'image' }, 'AgAC']) {
      expect(parseStoredMessage(JSON.stringify({ role: 'user', content: '[photo]', reference }))).toEqual({
        role: 'user',
        content: '[photo]',
      });
    }
  });

  it('refuses entries that are not messages', () => {
    for (const raw of ['', 'not json', '[]', 'null', '{"role":"robot","content":"x"}', '{"role":"user"}']) {
      expect(parseStoredMessage(raw)).toBeUndefined();
    }
  });
});
