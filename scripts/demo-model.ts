/**
 * The stand-in model of `npm run demo`: canned but varied answers (with Markdown, so rendering
 * shows; in Persian when the user writes Persian), a small phrase-book translator that speaks the
 * /translate wire format, and a provider that fails now and then so a fallback is visible.
 */
import type { Behaviour, Handler, RecordedRequest } from '../tests/fakes/provider-server';
import { translationRequest } from '../tests/fakes/provider-server/translator';

/** One request the fake providers answered, as the demo reports it under an answer. */
export interface DemoAttempt {
  readonly index: number;
  readonly provider: string;
  readonly apiKey: string | undefined;
  /** `undefined` when it answered; otherwise the failure it was given, e.g. `503 Service Unavailable`. */
  readonly failure: string | undefined;
}

export interface DemoModelOptions {
  /** The dialect that fails every `failEvery`-th request (a 503, then a 429, alternately). */
  readonly flakyProvider: string;
  readonly failEvery: number;
  /** Delay between streamed words, so the live preview has something to show. */
  readonly chunkDelayMs: number;
  /** Time to first byte per dialect (a stand-in's "latency"). */
  readonly firstByteMs: Readonly<Record<string, number>>;
  readonly onAttempt: (attempt: DemoAttempt) => void;
}

const PERSIAN = /[\u0600-\u06FF]/;

/** The fake providers' handler: failures on schedule, translations, or a canned chat answer. */
export function demoHandler(options: DemoModelOptions): Handler {
  let flakyRequests = 0;
  let flakyFailures = 0;
  let chatAnswers = 0;
  return (request) => {
    const attempt = { index: request.index, provider: request.dialect, apiKey: request.apiKey };
    if (request.dialect === options.flakyProvider && ++flakyRequests % options.failEvery === 0) {
      const failure = flakyFailures++ % 2 === 0 ? unavailable() : rateLimited();
      options.onAttempt({ ...attempt, failure: failure.summary });
      return failure.behaviour;
    }
    options.onAttempt({ ...attempt, failure: undefined });
    const timing = { delayMs: options.firstByteMs[request.dialect] ?? 200, chunkDelayMs: options.chunkDelayMs };
    // Media: the bundled voice note is "heard", the bundled picture "seen" (docs/architecture.md, media).
    if (request.operation === 'transcription' || request.media.some((part) => part.kind === 'audio')) {
      return { type: 'reply', text: SAMPLE_TRANSCRIPT, ...timing };
    }
    if (request.media.some((part) => part.kind === 'image')) {
      return { type: 'reply', text: describePicture(request), ...timing };
    }
    const translation = translationRequest(request);
    if (translation !== undefined) {
      const translations = translation.texts.map((text) => translate(text, translation.target));
      return { type: 'reply', text: JSON.stringify({ translations }), ...timing };
    }
    return { type: 'reply', text: chatAnswer(request, chatAnswers++), ...timing };
  };
}

/** What the stand-in "hears" in any voice note (the bundled one says it). */
export const SAMPLE_TRANSCRIPT = 'Hello Switchboard, what can you do with a voice note?';

/** What the stand-in "sees" in any picture: the bundled one is a yellow sun over a blue sea. */
function describePicture(request: RecordedRequest): string {
  const question = request.messages.at(-1)?.content ?? '';
  const about = PERSIAN.test(question)
    ? 'یک **خورشید زرد** بالای **دریای آبی** می‌بینم (از مدل جایگزین).'
    : 'I see a **yellow sun** over a **blue sea**, on a white sky: a tiny drawing.';
  return `${about}\n\n_(${request.media[0]?.mimeType ?? 'image'}, ${request.media[0]?.bytes ?? 0} bytes)_`;
}

function unavailable(): { summary: string; behaviour: Behaviour } {
  return {
    summary: '503 Service Unavailable',
    behaviour: {
      type: 'error',
      status: 503,
      body: { error: { message: 'Service Unavailable', type: 'internal_server_error' } },
    },
  };
}

function rateLimited(): { summary: string; behaviour: Behaviour } {
  return {
    summary: '429 Too Many Requests (retry after 2 s)',
    behaviour: {
      type: 'error',
      status: 429,
      headers: { 'retry-after': '2' },
      body: {
        error: {
          message:
            'Rate limit reached on requests per minute (RPM): Limit 30, Used 30, Requested 1. Please try again in 2s.',
          type: 'requests',
          code: 'rate_limited',
        },
      },
    },
  };
}

// ── chat ─────────────────────────────────────────────────────────────────────

/** A canned answer chosen by what the user wrote; `turn` varies the generic ones. */
function chatAnswer(request: RecordedRequest, turn: number): string {
  const userMessages = request.messages.filter((message) => message.role === 'user').map((message) => message.content);
  const question = userMessages.at(-1) ?? '';
  const earlier = userMessages.slice(0, -1);
  const lower = question.toLowerCase();
  if (PERSIAN.test(question)) return pick(PERSIAN_ANSWERS, turn);
  if (/\b(remember|earlier|before|what did i)\b/.test(lower)) return recall(earlier);
  if (/\b(hi|hello|hey|salam|good (morning|evening|afternoon))\b/.test(lower)) return GREETING;
  if (/\b(jokes?|funny)\b/.test(lower)) return JOKE;
  if (/\b(code|example|typescript|javascript|program)\b/.test(lower)) return CODE;
  if (/\b(tips|ideas|list|what can|try)\b/.test(lower)) return TIPS;
  const topic = question.length > 48 ? `${question.slice(0, 47)}…` : question;
  return pick(GENERIC_ANSWERS, turn)(topic, earlier.length);
}

function pick<T>(items: readonly T[], turn: number): T {
  const item = items[turn % items.length];
  if (item === undefined) throw new Error('no canned answers');
  return item;
}

function recall(earlier: readonly string[]): string {
  if (earlier.length === 0) {
    return "This conversation is fresh — I have **nothing** from you before this message. (After `/reset` that's expected.)";
  }
  const quoted = earlier.slice(-3).map((text) => `- _${text.replace(/[_*`]/g, '')}_`);
  return [`I remember **${earlier.length}** earlier message(s) in this chat. The latest:`, '', ...quoted].join('\n');
}

const GREETING = [
  '**Hello!** 👋 I am a _stand-in model_ running on this machine: no API keys, no network.',
  '',
  'Everything else is real: your message went through the Telegram Bot API (a local fake), the bot, its router and a pool of providers. Ask me for a *joke*, some *code* or *tips*, or write in Persian.',
].join('\n');

const JOKE = [
  'Why did the router cross the road?',
  '',
  'Because the **first provider** answered `503` — and the second one was right there. 🐔',
].join('\n');

const CODE = [
  'Here is how the bot asks the pool for an answer:',
  '',
  '```ts',
  'const reply = await sendMessageWithHistory(conversation, text);',
  'console.log(reply.provider, reply.maskedKey, reply.failedAttempts);',
  '```',
  '',
  'The router picks a provider and key, and falls over to the next one on a failure.',
].join('\n');

const TIPS = [
  'Things to try in this demo:',
  '',
  '1. **/translate fa** with a few lines (end a line with `\\` to continue it)',
  '2. **/stats** — providers, masked keys, success rate, quota left today',
  '3. **/reset**, then ask me what you said before',
  '4. Write a few messages in a row: every third request to one provider fails, and another answers',
].join('\n');

const GENERIC_ANSWERS: readonly ((topic: string, earlier: number) => string)[] = [
  (topic) =>
    `Good question about _“${topic}”_. In short:\n\n- **It depends** on what you need it for.\n- Start small, measure, then improve.\n- When in doubt, ask again with more detail.`,
  (topic, earlier) =>
    `I've noted _“${topic}”_. We have **${earlier}** earlier message(s) in this chat, and I see all of them — the bot keeps the history and trims it to fit each model.`,
  (topic) =>
    `Here's a plan for _“${topic}”_:\n\n1. **Understand** the problem\n2. **Try** the simplest thing that works\n3. **Check** the result, then repeat`,
  () =>
    'That is an interesting one. A real model would say something clever here; I can only promise that this answer was *streamed*, **rendered** from Markdown, and counted in `/stats`.',
];

const PERSIAN_ANSWERS: readonly string[] = [
  '**سلام!** 👋 من یک مدل نمایشی هستم که روی همین رایانه اجرا می‌شود؛ نه کلیدی لازم است و نه اینترنت.\n\nهر پیامی که می‌فرستید از ربات واقعی، مسیریاب و فهرست ارائه‌دهنده‌ها می‌گذرد.',
  'پرسش خوبی است! چند نکته:\n\n1. **تاریخچه:** پیام‌های قبلی این گفت‌وگو را به خاطر دارم.\n2. **ترجمه:** دستور `/translate fa` چند خط را با هم ترجمه می‌کند.\n3. **آمار:** با `/stats` ارائه‌دهنده‌ها و کلیدها را ببینید.',
  '*متشکرم!* این پاسخ از یک ارائه‌دهندهٔ ساختگی آمده است، اما ربات و مسیریاب واقعی هستند.',
];

// ── translation ──────────────────────────────────────────────────────────────

const LANGUAGE_ALIASES: Readonly<Record<string, string>> = {
  fa: 'fa',
  persian: 'fa',
  farsi: 'fa',
  de: 'de',
  german: 'de',
  deutsch: 'de',
  fr: 'fr',
  french: 'fr',
  es: 'es',
  spanish: 'es',
};

/** A tiny phrase book: English phrase → translations by language code. */
const PHRASES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  hello: { fa: 'سلام', de: 'Hallo', fr: 'Bonjour', es: 'Hola' },
  'good morning': { fa: 'صبح بخیر', de: 'Guten Morgen', fr: 'Bonjour', es: 'Buenos días' },
  'good night': { fa: 'شب بخیر', de: 'Gute Nacht', fr: 'Bonne nuit', es: 'Buenas noches' },
  'thank you': { fa: 'متشکرم', de: 'Danke', fr: 'Merci', es: 'Gracias' },
  'how are you': { fa: 'حالت چطور است؟', de: 'Wie geht es dir?', fr: 'Comment ça va ?', es: '¿Cómo estás?' },
  'see you tomorrow': { fa: 'فردا می‌بینمت', de: 'Bis morgen', fr: 'À demain', es: 'Hasta mañana' },
  'where is the station': {
    fa: 'ایستگاه کجاست؟',
    de: 'Wo ist der Bahnhof?',
    fr: 'Où est la gare ?',
    es: '¿Dónde está la estación?',
  },
  'i love tea': { fa: 'من چای را دوست دارم', de: 'Ich liebe Tee', fr: "J'adore le thé", es: 'Me encanta el té' },
};

/** The phrase-book translation, or the text marked with its target when the book has none. */
export function translate(text: string, target: string): string {
  const language = LANGUAGE_ALIASES[target.trim().toLowerCase()] ?? target;
  const phrase = text
    .toLowerCase()
    .replace(/[.!?,;:]+$/, '')
    .trim();
  return PHRASES[phrase]?.[language] ?? `[${target}] ${text}`;
}
