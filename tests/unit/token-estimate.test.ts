import { describe, expect, it } from '@jest/globals';
import { countTokens, estimateInputTokens, messageTokens } from '../../providers/router/token-estimate';

describe('token estimates', () => {
  it('counts special-token markers a user or a model may write as plain text, never throwing', () => {
    for (const text of [
      '<|endoftext|>',
      'before <|endoftext|> after',
      '<|fim_prefix|><|im_start|>user',
      '<|endofprompt|>',
    ]) {
      expect(countTokens(text)).toBeGreaterThan(0);
    }
    expect(countTokens('a <|endoftext|> b')).toBeGreaterThan(countTokens('a  b'));
    expect(estimateInputTokens([{ role: 'assistant', content: 'done.<|endoftext|>' }])).toBeGreaterThan(0);
  });

  it('counts Persian, mixed scripts and long texts, more for more text', () => {
    const persian = 'می‌خواهم کتاب‌ها را در ساعت ۱۰:۳۰ به کتابخانه بازگردانم؛';
    expect(countTokens(persian)).toBeGreaterThan(10);
    expect(countTokens(`${persian} and English 123`)).toBeGreaterThan(countTokens(persian));
    const long = 'word '.repeat(30_000);
    // Long texts are estimated from a sample: close to the full count.
    expect(countTokens(long)).toBeGreaterThan(25_000);
    expect(countTokens(long)).toBeLessThan(35_000);
  });

  it('uses the count a message carries instead of counting it again', () => {
    expect(messageTokens({ role: 'user', content: 'hello there', tokens: 7 })).toBe(7);
    expect(messageTokens({ role: 'user', content: 'hello there' })).toBe(countTokens('hello there'));
  });
});
