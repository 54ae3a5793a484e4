import type { RoutePreference } from '../../providers';
import type { SettingsFields, SettingsStore } from '../../storage';

/**
 * A user's own settings (/settings): an answer style (a preset persona, or custom instructions
 * that replace the system prompt), a model preference, the interface language and streaming.
 * They live in the settings store under the user's id and are read for each update, so one
 * user's choice never reaches another's request: nothing here is kept between calls.
 */

export const PERSONAS = ['concise', 'detailed', 'teacher', 'translator', 'code'] as const;
export type Persona = (typeof PERSONAS)[number];

export const MODEL_PREFERENCES = ['auto', 'fast', 'smart'] as const;
export type ModelPreference = (typeof MODEL_PREFERENCES)[number];

export const INTERFACE_LANGUAGES = ['en', 'fa'] as const;
export type InterfaceLanguage = (typeof INTERFACE_LANGUAGES)[number];

/** The longest custom instructions accepted, in characters. */
export const CUSTOM_PROMPT_MAX_CHARS = 1_000;

export interface UserSettings {
  /** A preset style; `undefined`: the bot's own system prompt alone. */
  readonly persona: Persona | undefined;
  /** Custom instructions, used as the whole system prompt (a persona is then unset). */
  readonly customPrompt: string | undefined;
  readonly model: ModelPreference;
  /** `undefined`: from the user's Telegram language. */
  readonly language: InterfaceLanguage | undefined;
  /** `undefined`: the bot's default (`STREAM_REPLIES`). */
  readonly streaming: boolean | undefined;
}

export const DEFAULT_SETTINGS: UserSettings = {
  persona: undefined,
  customPrompt: undefined,
  model: 'auto',
  language: undefined,
  streaming: undefined,
};

/** One change from the menu or a command. */
export type SettingsChange =
  | { readonly type: 'persona'; readonly persona: Persona | undefined }
  | { readonly type: 'custom-prompt'; readonly prompt: string }
  | { readonly type: 'model'; readonly model: ModelPreference }
  | { readonly type: 'language'; readonly language: InterfaceLanguage | undefined }
  | { readonly type: 'streaming'; readonly streaming: boolean }
  | { readonly type: 'reset' };

export type PromptCheck =
  | { readonly ok: true; readonly prompt: string }
  | { readonly ok: false; readonly problem: 'empty' | 'too-long' | 'control-characters'; readonly length: number };

/** What each preset adds to the system prompt (instructions to the model, not shown to users). */
const PERSONA_PROMPTS: Readonly<Record<Persona, string>> = {
  concise: 'Answer as briefly as you can: a sentence or a few short points. No preamble, no summary at the end.',
  detailed:
    'Answer thoroughly: explain the reasoning, cover the important cases and caveats, and give examples where they help.',
  teacher:
    'Act as a patient teacher: explain step by step in plain words, check understanding with a short question at the end, and give a small exercise when it fits.',
  translator:
    'Act as a translator: translate what the user sends. Persian (Farsi) text goes to English and any other language to Persian, unless the user names a target language. Reply with the translation only.',
  code: 'Act as a programming assistant: answer with working code in fenced code blocks with the language named, explain briefly, and point out bugs and edge cases.',
};

/** Field names in the store. */
const FIELDS = { persona: 'persona', prompt: 'prompt', model: 'model', language: 'language', streaming: 'streaming' };

export interface SettingsServiceOptions {
  readonly store: SettingsStore;
  /** The bot's system prompt (`SYSTEM_PROMPT`), which presets extend. */
  readonly systemPrompt: string;
  /** What "fast" and "smart" try first; an empty list means the option is not offered. */
  readonly preferences: Readonly<Record<Exclude<ModelPreference, 'auto'>, readonly RoutePreference[]>>;
}

export class SettingsService {
  constructor(private readonly options: SettingsServiceOptions) {}

  async get(userId: string): Promise<UserSettings> {
    return this.parse(await this.options.store.load(userId));
  }

  /** Applies one change and returns the settings after it. A custom prompt must pass `checkPrompt` first. */
  async update(userId: string, change: SettingsChange): Promise<UserSettings> {
    const store = this.options.store;
    switch (change.type) {
      case 'reset':
        await store.clear(userId);
        return DEFAULT_SETTINGS;
      case 'persona':
        return this.parse(
          await store.update(userId, { [FIELDS.persona]: change.persona ?? null, [FIELDS.prompt]: null }),
        );
      case 'custom-prompt': {
        const checked = checkPrompt(change.prompt);
        if (!checked.ok) throw new Error(`custom prompt refused: ${checked.problem}`);
        return this.parse(await store.update(userId, { [FIELDS.prompt]: checked.prompt, [FIELDS.persona]: null }));
      }
      case 'model':
        return this.parse(
          await store.update(userId, { [FIELDS.model]: change.model === 'auto' ? null : change.model }),
        );
      case 'language':
        return this.parse(await store.update(userId, { [FIELDS.language]: change.language ?? null }));
      case 'streaming':
        return this.parse(await store.update(userId, { [FIELDS.streaming]: change.streaming ? 'on' : 'off' }));
    }
  }

  /** The model preferences a user may choose: `auto`, and those the configuration maps to providers. */
  availableModels(): ModelPreference[] {
    return MODEL_PREFERENCES.filter((model) => model === 'auto' || this.options.preferences[model].length > 0);
  }

  /** The system prompt of this user's requests. */
  systemPromptFor(settings: UserSettings): string {
    if (settings.customPrompt !== undefined) return settings.customPrompt;
    if (settings.persona === undefined) return this.options.systemPrompt;
    return `${this.options.systemPrompt}\n\n${PERSONA_PROMPTS[settings.persona]}`;
  }

  /** The providers this user's requests try first (`undefined`: ordinary routing). */
  preferenceFor(settings: UserSettings): readonly RoutePreference[] | undefined {
    if (settings.model === 'auto') return undefined;
    const preference = this.options.preferences[settings.model];
    return preference.length === 0 ? undefined : preference;
  }

  /** Stored fields to settings; a value that is not (or no longer) valid reads as the default. */
  private parse(fields: SettingsFields): UserSettings {
    const persona = fields[FIELDS.persona];
    const prompt = fields[FIELDS.prompt];
    const model = fields[FIELDS.model];
    const language = fields[FIELDS.language];
    const streaming = fields[FIELDS.streaming];
    const checkedPrompt = prompt === undefined ? undefined : checkPrompt(prompt);
    return {
      persona: isOneOf(PERSONAS, persona) ? persona : undefined,
      customPrompt: checkedPrompt?.ok === true ? checkedPrompt.prompt : undefined,
      model: isOneOf(MODEL_PREFERENCES, model) && this.availableModels().includes(model) ? model : 'auto',
      language: isOneOf(INTERFACE_LANGUAGES, language) ? language : undefined,
      streaming: streaming === 'on' ? true : streaming === 'off' ? false : undefined,
    };
  }
}

/** Custom instructions as they will be stored (trimmed), or why they are refused. */
export function checkPrompt(text: string): PromptCheck {
  const prompt = text.trim();
  if (prompt === '') return { ok: false, problem: 'empty', length: 0 };
  if (prompt.length > CUSTOM_PROMPT_MAX_CHARS) return { ok: false, problem: 'too-long', length: prompt.length };
  // Line breaks and tabs are text; other control characters are not.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it looks for
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(prompt)) {
    return { ok: false, problem: 'control-characters', length: prompt.length };
  }
  return { ok: true, prompt };
}

function isOneOf<T extends string>(values: readonly T[], value: string | undefined): value is T {
  return value !== undefined && (values as readonly string[]).includes(value);
}
