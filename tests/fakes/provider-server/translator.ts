import type { Behaviour, RecordedRequest } from './types';

/**
 * A fake model that speaks the translation wire format: it reads `{"target", "texts"}` from the
 * last user message and answers `{"translations": [...]}` with `<target>:<text>` for each text.
 * `tamper` lets a test break answers (drop an entry, answer prose) to exercise validation.
 */
export function translationRequest(request: RecordedRequest): { target: string; texts: string[] } | undefined {
  const last = request.messages.at(-1)?.content;
  if (last === undefined) return undefined;
  try {
    const value = JSON.parse(last) as { target?: unknown; texts?: unknown };
    if (typeof value.target !== 'string' || !Array.isArray(value.texts)) return undefined;
    return { target: value.target, texts: value.texts.map(String) };
  } catch {
    return undefined;
  }
}

export function fakeTranslator(
  tamper?: (translations: string[], request: RecordedRequest) => string | string[],
): (request: RecordedRequest) => Behaviour {
  return (request) => {
    const parsed = translationRequest(request);
    if (parsed === undefined) return { type: 'reply', text: `echo: ${request.messages.at(-1)?.content ?? ''}` };
    const translations = parsed.texts.map((text) => `${parsed.target}:${text}`);
    const tampered = tamper?.(translations, request) ?? translations;
    return {
      type: 'reply',
      text: typeof tampered === 'string' ? tampered : JSON.stringify({ translations: tampered }),
    };
  };
}
