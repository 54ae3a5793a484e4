import { Composer, GrammyError } from 'grammy';
import type { InlineKeyboardButton } from 'grammy/types';
import { isStorageUnavailable } from '../../storage';
import type { BotContext } from '../context';
import { languageOf, type Messages, messagesFor } from '../locales';
import {
  CUSTOM_PROMPT_MAX_CHARS,
  checkPrompt,
  type InterfaceLanguage,
  type ModelPreference,
  PERSONAS,
  type Persona,
  type SettingsChange,
  type UserSettings,
} from '../services/settings';

/**
 * `/settings`: the user's own settings as one message with inline buttons (answer style, model
 * preference, interface language, streaming, reset); each press saves at once and redraws the
 * message. `/settings prompt <text>` sets custom instructions, shown back to the user. Buttons
 * carry the id of the user whose menu it is: in a group, someone else's press changes nothing.
 * A press costs no provider call, so no limit applies; pressing a button twice sets the same value.
 */

/** `set:<user id>:<what>:<value>` — what: p (style), m (model), l (language), s (streaming), r (reset). */
const BUTTON = /^set:(\d+):([pmlsr]):([a-z]+)$/;

export function settingsFeature(): Composer<BotContext> {
  const feature = new Composer<BotContext>();
  feature.command('settings', async (ctx) => {
    if (ctx.from === undefined) return;
    const [subcommand = '', ...rest] = ctx.match.trimStart().split(/(\s+)/);
    if (subcommand.toLowerCase() === 'prompt') {
      await setPrompt(ctx, rest.join(''));
      return;
    }
    const { text, keyboard } = menu(ctx, ctx.t, ctx.settings, ctx.from.id);
    await ctx.reply(text, { reply_markup: { inline_keyboard: keyboard } });
  });

  feature.on('callback_query', async (ctx, next) => {
    const data = ctx.callbackQuery.data ?? '';
    if (!data.startsWith('set:')) return next();
    const match = BUTTON.exec(data);
    const change = match === null ? undefined : changeOf(ctx, match[2]!, match[3]!);
    if (match === null || change === undefined || ctx.callbackQuery.message === undefined) {
      await ctx.answerCallbackQuery({ text: ctx.t.buttons.expired });
      return;
    }
    if (String(ctx.from.id) !== match[1]) {
      await ctx.answerCallbackQuery({ text: ctx.t.buttons.notYours });
      return;
    }
    let settings: UserSettings;
    try {
      settings = await ctx.deps.services.settings.update(String(ctx.from.id), change);
    } catch (error) {
      if (!isStorageUnavailable(error)) throw error;
      await ctx.answerCallbackQuery({ text: ctx.t.settings.unavailable });
      return;
    }
    // The menu redrawn in the language the user now has.
    const t = messagesFor(settings.language ?? languageOf(ctx.from.language_code));
    const { text, keyboard } = menu(ctx, t, settings, ctx.from.id);
    try {
      await ctx.editMessageText(text, { reply_markup: { inline_keyboard: keyboard } });
    } catch (error) {
      // The same value pressed again: the menu already shows it.
      if (!(error instanceof GrammyError && /message is not modified/i.test(error.description))) throw error;
    }
    await ctx.answerCallbackQuery({ text: t.settings.saved });
  });
  return feature;
}

/** `/settings prompt <text>`: checks, saves and shows back the custom instructions. */
async function setPrompt(ctx: BotContext, text: string): Promise<void> {
  if (ctx.from === undefined) return;
  const t = ctx.t.settings;
  if (text.trim() === '') {
    const current = ctx.settings.customPrompt;
    await ctx.reply(
      current === undefined
        ? `${t.noPrompt}\n\n${t.promptEmpty(CUSTOM_PROMPT_MAX_CHARS)}`
        : `${t.customShown(current)}\n\n${t.promptHint(CUSTOM_PROMPT_MAX_CHARS)}`,
    );
    return;
  }
  const checked = checkPrompt(text);
  if (!checked.ok) {
    await ctx.reply(
      checked.problem === 'too-long'
        ? t.promptTooLong(checked.length, CUSTOM_PROMPT_MAX_CHARS)
        : checked.problem === 'empty'
          ? t.promptEmpty(CUSTOM_PROMPT_MAX_CHARS)
          : t.promptInvalid,
    );
    return;
  }
  try {
    await ctx.deps.services.settings.update(String(ctx.from.id), { type: 'custom-prompt', prompt: checked.prompt });
  } catch (error) {
    if (!isStorageUnavailable(error)) throw error;
    await ctx.reply(t.unavailable);
    return;
  }
  // Plain text: the instructions are shown exactly as they were typed.
  await ctx.reply(t.promptSaved(checked.prompt));
}

/** The change a button asks for, or `undefined` for a value that is not (or no longer) offered. */
function changeOf(ctx: BotContext, what: string, value: string): SettingsChange | undefined {
  switch (what) {
    case 'p':
      if (value === 'default') return { type: 'persona', persona: undefined };
      return (PERSONAS as readonly string[]).includes(value)
        ? { type: 'persona', persona: value as Persona }
        : undefined;
    case 'm':
      return (ctx.deps.services.settings.availableModels() as string[]).includes(value)
        ? { type: 'model', model: value as ModelPreference }
        : undefined;
    case 'l':
      if (value === 'auto') return { type: 'language', language: undefined };
      return value === 'en' || value === 'fa' ? { type: 'language', language: value } : undefined;
    case 's':
      return value === 'on' || value === 'off' ? { type: 'streaming', streaming: value === 'on' } : undefined;
    case 'r':
      return value === 'all' ? { type: 'reset' } : undefined;
    default:
      return undefined;
  }
}

/** The settings message: what is set, and a button for every choice (the current ones ticked). */
function menu(
  ctx: BotContext,
  t: Messages,
  settings: UserSettings,
  userId: number,
): { text: string; keyboard: InlineKeyboardButton[][] } {
  const streamingDefault = ctx.deps.config.streamReplies;
  const button = (label: string, what: string, value: string, chosen: boolean): InlineKeyboardButton => ({
    text: chosen ? `✓ ${label}` : label,
    callback_data: `set:${userId}:${what}:${value}`,
  });
  const custom = settings.customPrompt !== undefined;
  const styles = (['default', ...PERSONAS] as const).map((persona) =>
    button(t.settings.personas[persona], 'p', persona, !custom && (settings.persona ?? 'default') === persona),
  );
  const models = ctx.deps.services.settings
    .availableModels()
    .map((model) => button(t.settings.models[model], 'm', model, settings.model === model));
  const languages: (InterfaceLanguage | 'auto')[] = ['auto', 'en', 'fa'];
  const streaming = settings.streaming ?? streamingDefault;
  const keyboard: InlineKeyboardButton[][] = [
    styles.slice(0, 3),
    styles.slice(3),
    ...(models.length > 1 ? [models] : []),
    languages.map((language) =>
      button(
        language === 'auto' ? t.settings.languageAuto : t.settings.languages[language],
        'l',
        language,
        (settings.language ?? 'auto') === language,
      ),
    ),
    [
      {
        text: streaming ? t.settings.streamingOn : t.settings.streamingOff,
        callback_data: `set:${userId}:s:${streaming ? 'off' : 'on'}`,
      },
      { text: t.settings.reset, callback_data: `set:${userId}:r:all` },
    ],
  ];
  const text = [
    t.settings.title,
    t.settings.summary(settings, streamingDefault),
    ...(custom ? [t.settings.customShown(settings.customPrompt ?? '')] : []),
    t.settings.promptHint(CUSTOM_PROMPT_MAX_CHARS),
  ].join('\n\n');
  return { text, keyboard };
}
