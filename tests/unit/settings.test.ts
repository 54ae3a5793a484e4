import { describe, expect, it } from '@jest/globals';
import { checkPrompt, DEFAULT_SETTINGS, SettingsService } from '../../bot/services/settings';
import { MemorySettingsStore } from '../../storage/memory/settings-store';

const service = (store = new MemorySettingsStore()) =>
  new SettingsService({
    store,
    systemPrompt: 'BASE',
    preferences: { fast: [{ provider: 'first', model: 'quick' }], smart: [] },
  });

describe('custom instructions', () => {
  it('are trimmed, capped at 1,000 characters and plain text (line breaks allowed)', () => {
    expect(checkPrompt('  two\nlines\t  ')).toEqual({ ok: true, prompt: 'two\nlines' });
    expect(checkPrompt('x'.repeat(1000))).toMatchObject({ ok: true });
    expect(checkPrompt('x'.repeat(1001))).toEqual({ ok: false, problem: 'too-long', length: 1001 });
    expect(checkPrompt(' \n ')).toMatchObject({ ok: false, problem: 'empty' });
    expect(checkPrompt('bell\u0007')).toMatchObject({ ok: false, problem: 'control-characters' });
  });
});

describe('SettingsService', () => {
  it('builds the system prompt and the preference from the settings', async () => {
    const settings = service();
    expect(settings.systemPromptFor(DEFAULT_SETTINGS)).toBe('BASE');
    const teacher = await settings.update('1', { type: 'persona', persona: 'teacher' });
    expect(settings.systemPromptFor(teacher)).toMatch(/^BASE\n\n.*teacher/);
    const custom = await settings.update('1', { type: 'custom-prompt', prompt: ' mine ' });
    expect(custom.persona).toBeUndefined();
    expect(settings.systemPromptFor(custom)).toBe('mine');
    expect(settings.preferenceFor(custom)).toBeUndefined();
    const fast = await settings.update('1', { type: 'model', model: 'fast' });
    expect(settings.preferenceFor(fast)).toEqual([{ provider: 'first', model: 'quick' }]);
    expect(settings.availableModels()).toEqual(['auto', 'fast']);
    expect(await settings.update('1', { type: 'reset' })).toEqual(DEFAULT_SETTINGS);
    expect(await settings.get('1')).toEqual(DEFAULT_SETTINGS);
  });

  it('reads stored values that are not (or no longer) valid as the defaults', async () => {
    const store = new MemorySettingsStore();
    await store.update('2', {
      persona: 'wizard',
      model: 'smart', // not configured any more
      language: 'de',
      streaming: 'maybe',
      prompt: 'y'.repeat(5000),
    });
    expect(await service(store).get('2')).toEqual(DEFAULT_SETTINGS);
  });
});
