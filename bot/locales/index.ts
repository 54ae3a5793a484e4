import { type Messages, en } from './en';
import { fa } from './fa';

export type { Messages } from './en';
export type Language = 'en' | 'fa';

const LOCALES: Readonly<Record<Language, Messages>> = { en, fa };

/** The interface language for a Telegram `language_code`: Persian for `fa…`, English otherwise. */
export function languageOf(languageCode: string | undefined): Language {
  return languageCode?.toLowerCase().startsWith('fa') ? 'fa' : 'en';
}

export function messagesFor(language: Language): Messages {
  return LOCALES[language];
}

export const LANGUAGES: readonly Language[] = ['en', 'fa'];
