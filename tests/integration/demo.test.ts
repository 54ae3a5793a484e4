import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { maskSecret } from '../../providers/shared/secrets';
import { DEMO_PROVIDERS, expandTranslateTexts } from '../../scripts/demo';
import { translate } from '../../scripts/demo-model';
import { DIST_TOOLS } from '../helpers/built';
import { emptyDirectory, runBuiltScript } from '../helpers/cli';

/** The made-up keys the demo configures; none may show in full. */
const DEMO_KEYS = DEMO_PROVIDERS.flatMap((provider) => provider.keys);
/** The demo's pool: the first (flaky, two keys) answers, the second takes over when it fails. */
const [FLAKY, FALLBACK] = DEMO_PROVIDERS;
if (FLAKY === undefined || FALLBACK === undefined) throw new Error('the demo needs two providers');
const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** Either of the flaky provider's keys, masked, as a pattern. */
const flakyKey = `(${FLAKY.keys.map((key) => escapeRegExp(maskSecret(key))).join('|')})`;

describe('npm run demo', () => {
  it('runs the real bot on local stand-ins: answers, a visible fallback, /translate, /stats, clean exit', async () => {
    const directory = emptyDirectory('switchboard-demo-test-');
    const started = Date.now();
    try {
      const script = [
        'hello',
        'tell me a joke',
        // The third request to the first provider fails with a 503: the second answers instead.
        'show me some code',
        '/translate fa hello | good morning \\',
        'thank you',
        '/voice',
        '/photo what is in this picture?',
        '/stats',
        '/quit',
        'this line is never sent',
      ];
      const { code, stdout, stderr } = await runBuiltScript(path.join(DIST_TOOLS, 'scripts/demo.js'), {
        cwd: directory.path,
        env: {},
        input: `${script.join('\n')}\n`,
        timeoutMs: 50_000,
      });
      expect({ code, stderr }).toEqual({ code: 0, stderr: '' });

      // The user's lines are echoed, the bot's answers follow, each with who answered.
      expect(stdout).toContain('you › hello\nbot › Hello! 👋 I am a stand-in model');
      expect(stdout).toMatch(new RegExp(`↳ ✓ ${FLAKY.name} · key ${flakyKey} · \\d+ ms`));
      expect(stdout).toContain('Why did the router cross the road?');

      // The fallback: the first provider's failure, then the second answering.
      expect(stdout).toContain('const reply = await sendMessageWithHistory(conversation, text);');
      expect(stdout).toMatch(
        new RegExp(
          `↳ ✗ ${FLAKY.name} · key ${flakyKey} · 503 Service Unavailable → fallback\\n\\s+` +
            `↳ ✓ ${FALLBACK.name} · key ${escapeRegExp(maskSecret(FALLBACK.keys[0] ?? ''))} · \\d+ ms · after 1 failed attempt`,
        ),
      );

      // /translate with three texts (a `|` list continued on a second line), one line each, in order.
      expect(stdout).toMatch(/bot › سلام\n\s+صبح بخیر\n\s+متشکرم\n/);

      // The bundled voice note, heard through the pool and answered; the bundled picture, seen.
      expect(stdout).toContain('you › /voice\nbot › 🎤 Hello Switchboard, what can you do with a voice note?');
      expect(stdout).toMatch(/you › \/photo what is in this picture\?\nbot › I see a yellow sun over a blue sea/);
      expect(stdout).toContain('(image/png, 174 bytes)');

      // /stats for the admin demo user: every provider, keys masked, the failure counted.
      expect(stdout).toContain('📊 Switchboard');
      for (const provider of DEMO_PROVIDERS) expect(stdout).toMatch(new RegExp(`^\\s+${provider.name} `, 'm'));
      expect(stdout).toContain(maskSecret(FLAKY.keys[1] ?? ''));
      expect(stdout).toContain('errors: transient 1');
      expect(stdout).toContain('Active users today: 1');

      // /quit stops the bot with SIGTERM; nothing after it is sent.
      expect(stdout).not.toContain('this line is never sent');
      expect(stdout).toMatch(/The bot exited with code 0\. Bye!\n$/);
      for (const key of DEMO_KEYS) expect(stdout).not.toContain(key);
      expect(Date.now() - started).toBeLessThan(45_000);
    } finally {
      directory.remove();
    }
  }, 60_000);

  it('reads `/translate <lang> a | b` as one text per line, and leaves other messages alone', () => {
    expect(expandTranslateTexts('/translate fa hello | good morning|thank you')).toBe(
      '/translate fa hello\ngood morning\nthank you',
    );
    expect(expandTranslateTexts('a | b')).toBe('a | b');
    expect(expandTranslateTexts('/translate de')).toBe('/translate de');
  });

  it("translates from the stand-in's phrase book, and marks what it does not know", () => {
    expect(translate('Thank you!', 'fa')).toBe('متشکرم');
    expect(translate('good morning', 'German')).toBe('Guten Morgen');
    expect(translate('the cat sleeps', 'fa')).toBe('[fa] the cat sleeps');
  });
});
