/**
 * English interface texts. Every text the bot shows a user lives here and in fa.ts; the type of
 * this object is the list of texts, so a missing translation fails the build.
 */
import type { ModelPreference, Persona, UserSettings } from '../services/settings';
import type { UserUsage } from '../services/usage';

/** `3 h 20 min`, or `45 min`. */
function formatDuration(minutes: number): string {
  const hours = Math.floor(minutes / 60);
  return hours === 0 ? `${minutes} min` : `${hours} h ${minutes % 60} min`;
}

/** `45 s`, `3 min 20 s`, or `30 min`. */
function formatSeconds(seconds: number): string {
  const minutes = Math.floor(seconds / 60);
  const rest = seconds % 60;
  if (minutes === 0) return `${rest} s`;
  return rest === 0 ? `${minutes} min` : `${minutes} min ${rest} s`;
}

export const en = {
  start: (name: string) =>
    `Hi ${name}! I'm an AI assistant. Send me a message and I'll answer, remembering our conversation.\n\n` +
    'Commands:\n/translate <language> — translate the lines of a message (or of the message you reply to)\n' +
    '/reset — forget our conversation\n/help — how to use me',
  help:
    'Send me any text and I answer it, with our earlier messages in mind.\n' +
    'In groups, mention me or reply to my message.\n\n' +
    '/translate <language> — translate text line by line. Write the lines under the command, or reply to a message with /translate fa.\n' +
    '/new — start a new conversation (/reset does the same at once)\n/reset — forget our conversation and start over\n' +
    '/settings — answer style, custom instructions, model, language and streaming\n/export — our conversation as a Markdown file\n' +
    '/usage — your use today and what is left\n/stats — usage and quota (admins only)\n\n' +
    'Under an answer: 🔄 gives a new answer to the same question, ▶️ continues one that was cut short, ⏹ stops one being written.',
  commands: {
    start: 'Start and see what I can do',
    help: 'How to use the bot',
    reset: 'Forget our conversation',
    new: 'Start a new conversation',
    usage: 'Your use today and what is left',
    settings: 'Answer style, model, language, streaming',
    export: 'Our conversation as a Markdown file',
    translate: 'Translate lines: /translate <language>',
    stats: 'Usage and quota (admins)',
  },
  resetDone: 'Done — I forgot our conversation. What shall we talk about?',
  newConversation: {
    started: 'New conversation started — I forgot the earlier one. What shall we talk about?',
    confirm: (messages: number) =>
      `Our conversation has ${messages} messages. Start a new one? I will forget this one.`,
    yes: 'Yes, start over',
    no: 'No, keep it',
    kept: 'Kept our conversation. Carry on!',
  },
  buttons: {
    expired: 'That button no longer works.',
    notYours: 'This button is for the person who asked.',
    alreadyDone: 'Already done.',
  },
  settings: {
    title: '⚙️ Your settings',
    summary: (settings: UserSettings, streamingDefault: boolean) =>
      [
        `Answer style: ${settings.customPrompt !== undefined ? 'custom instructions' : en.settings.personas[settings.persona ?? 'default']}`,
        `Model: ${en.settings.models[settings.model]}`,
        `Language: ${settings.language === undefined ? 'automatic' : en.settings.languages[settings.language]}`,
        `Streaming: ${(settings.streaming ?? streamingDefault) ? 'on' : 'off'}`,
      ].join('\n'),
    customShown: (prompt: string) => `Your custom instructions:\n«${prompt}»`,
    promptHint: (max: number) =>
      `Custom instructions: /settings prompt <text> (up to ${max} characters). They replace the answer style; choosing a style removes them.`,
    personas: {
      default: 'Default',
      concise: 'Concise',
      detailed: 'Detailed',
      teacher: 'Teacher',
      translator: 'Translator',
      code: 'Code helper',
    } satisfies Record<Persona | 'default', string>,
    models: { auto: 'Auto', fast: 'Fast', smart: 'Smart' } satisfies Record<ModelPreference, string>,
    languages: { en: 'English', fa: 'فارسی' },
    languageAuto: 'Automatic',
    streamingOn: 'Streaming: on',
    streamingOff: 'Streaming: off',
    reset: 'Reset all',
    saved: 'Saved.',
    unavailable: "I can't reach my settings storage right now. Please try again in a minute.",
    promptSaved: (prompt: string) =>
      `Saved. I'll follow these instructions in my answers:\n«${prompt}»\n\nChoose a style in /settings to go back to a preset.`,
    promptTooLong: (length: number, max: number) =>
      `Those instructions are too long (${length} characters; the most is ${max}). Please shorten them.`,
    promptEmpty: (max: number) =>
      `Write the instructions after the command, e.g.\n/settings prompt Answer like a pirate.\n(Up to ${max} characters.)`,
    promptInvalid: 'Those instructions contain control characters I cannot store. Please send plain text.',
    noPrompt: 'You have no custom instructions. Set them with /settings prompt <text>.',
  },
  answerButtons: {
    regenerate: '🔄 Regenerate',
    continue: '▶️ Continue',
    stop: '⏹ Stop',
    writing: '✍️ Writing… press Stop to end the answer here.',
    stopped: 'Stopped.',
    stoppedNote: '⏹ (stopped)',
    finished: 'This answer has already finished.',
    old: 'That answer is no longer the latest one, so this button does nothing.',
    working: 'On it…',
    limited: "You've reached your limit for now: see /usage.",
    unavailable: "I can't reach our conversation right now. Please try again in a minute.",
  },
  export: {
    empty: "There's nothing to export yet: our conversation is empty.",
    unavailable: "I can't reach our conversation right now. Please try again in a minute.",
    caption: (messages: number) => `Our conversation: ${messages} messages.`,
    title: 'Conversation with Switchboard',
    exported: (date: string) => `Exported ${date} (UTC)`,
    you: 'You',
    assistant: 'Assistant',
  },
  usage: {
    report: (usage: UserUsage) =>
      [
        `Today: ${usage.requestsToday} ${usage.requestsToday === 1 ? 'request' : 'requests'}` +
          (usage.dailyLimit > 0
            ? ` of ${usage.dailyLimit} — ${Math.max(0, usage.dailyLimit - usage.requestsToday)} left.`
            : ' (no daily limit).'),
        usage.perMinute > 0
          ? `This minute: ${usage.requestsThisMinute} of ${usage.perMinute}.`
          : 'No per-minute limit.',
        `Photos, voice notes and files today: ${usage.mediaToday}` +
          (usage.mediaLimit > 0 ? ` of ${usage.mediaLimit}.` : ' (no daily limit).'),
        `Listening today: ${formatSeconds(usage.audioSecondsToday)}` +
          (usage.audioSecondsLimit > 0 ? ` of ${formatSeconds(usage.audioSecondsLimit)}.` : ' (no daily limit).'),
        `The day's count starts again at 00:00 UTC, in ${formatDuration(usage.minutesToReset)}.`,
        'Over a limit, I tell you once when you can write again.',
      ].join('\n'),
    admin: "You're an admin of this bot: no per-user limits apply to you. /stats shows the whole pool.",
  },
  resetFailed: "I couldn't clear our conversation right now (storage is unavailable). Please try again in a minute.",
  notAllowed: 'Sorry, this bot is private. Ask its owner to add your Telegram id.',
  tooLong: (length: number, max: number) =>
    `Your message is too long (${length} characters; the most I take is ${max}). Please shorten it or split it up.`,
  emptyMessage: 'Your message is empty — send me some text.',
  onlyText: 'I can only read text messages for now. Please send your question as text.',
  unknownCommand: "I don't know that command. See /help.",
  rateLimited: (seconds: number) => `You're sending messages too fast. Please wait ${seconds} s and try again.`,
  dailyLimit: (hours: number) => `You've reached today's limit of messages. Come back in about ${hours} h.`,
  historyUnavailable:
    "⚠️ I can't reach my memory right now, so I'll answer without our earlier conversation until it's back.",
  errors: {
    noCapacity: (minutes: number | undefined) =>
      minutes === undefined
        ? 'All my free AI quota is used up for now. Please try again later.'
        : `All my free AI quota is busy right now. Please try again in about ${minutes} min.`,
    unavailable: "The AI providers aren't answering right now. Please try again in a minute.",
    contextTooLong: 'Our conversation has grown too long for the AI models. Send /reset to start over.',
    contentFiltered: 'The AI provider declined to answer this message for safety reasons.',
    deadline: 'The AI took too long to answer. Please try again.',
    interrupted: 'The answer broke off half-way. Please send your message again.',
    noProviders: 'No AI provider is configured yet. The bot owner needs to add API keys.',
    noCapability: 'None of the AI models set up here can read this kind of message yet. Please send it as text.',
    generic: 'Something went wrong on my side. Please try again.',
    setAside:
      'I could not handle this message: it failed every time I tried, so I have set it aside. Please send it again in other words, or try later.',
  },
  translate: {
    usage: (defaultLanguage: string) =>
      'Usage:\n/translate <language>\nline one\nline two\n\n' +
      `…or reply to a message with /translate <language>. Each line is translated separately. The language can be a name or a code (fa, de, French); without one I use "${defaultLanguage}".`,
    nothingToTranslate: (defaultLanguage: string) =>
      `There's nothing to translate. Write the lines under the command, or reply to a message with /translate ${defaultLanguage}.`,
    tooMany: (count: number, max: number) =>
      `That's ${count} lines; I translate at most ${max} at once. Please split them up.`,
    failedLine: (original: string) => `⚠️ (not translated) ${original}`,
    someFailed: (count: number) => `⚠️ ${count} line(s) could not be translated and are shown as they were.`,
    noTextInImage: "I couldn't find any text in that image to translate.",
  },
  stats: {
    refused: "Sorry, /stats is for the bot's admins only.",
    title: (day: string) => `📊 Switchboard — ${day} (UTC)`,
    pool: (left: number, capacity: number) => `Pool: ${left} of ${capacity} requests left today`,
    unknownKeys: (count: number) => `${count} key(s) with no known daily limit`,
    users: (active: number) => `Active users today: ${active}`,
    topUsers: 'Top users:',
    noRequests: 'no requests yet',
    requests: 'requests',
    success: 'ok',
    fallbacks: 'fallbacks',
    hedges: 'hedged',
    transcriptions: (count: number, seconds: number) => `🎤 ${count} transcribed (${seconds} s of audio)`,
    mediaRequests: (count: number) => `🖼 ${count} with media`,
    left: 'left',
    thisMonth: 'this month',
    errors: 'errors',
    breaker: { closed: '🟢', open: '🔴 circuit open', 'half-open': '🟡 probing' },
    blocked: { bad: 'rejected key', quota: 'quota used up', cooldown: 'cooling down' } as Record<string, string>,
    until: (time: string) => `until ${time}`,
  },
  media: {
    videoFormat:
      'I can listen to videos in MP4, MPEG or WebM only, and this one is in another format. Please send it as MP4, or as a voice note.',
    tooLarge: (megabytes: number) =>
      `That file is too large for me: Telegram lets bots download at most 20 MB, and this one is ${megabytes} MB.`,
    unsupported: 'I can read photos, images, voice notes, audio, PDFs and text files, but not this kind of file.',
    downloadFailed: "I couldn't download your file from Telegram. Please send it again.",
    nothingHeard: "I couldn't make out any words in that recording. Please try again, or write your question.",
    unreadable: "The AI models couldn't read that file: it may be damaged or in a format they don't take.",
    notText:
      "That file doesn't look like text I can read. I read text files (txt, md, csv, json, code), PDFs, photos and voice notes.",
    documentTooLong: (chars: number, max: number) =>
      `That file is too long for me (${chars} characters; the most I take is ${max}). Please send a part of it.`,
    pdfNoText:
      'That PDF has no text I can read: it looks like scanned pages. Please send the pages as photos, or the text itself.',
    pdfEncrypted: "That PDF is protected by a password, so I can't read it. Please send a copy without the password.",
    pdfUnreadable: "I couldn't open that PDF: it may be damaged. Please check that it opens, and send it again.",
    pdfTooComplex: 'That PDF is too large or complex for me to read in time. Please send only the pages you need.',
    pdfTextCut: (lastPage: number, pages: number) =>
      `📄 That PDF is longer than I can read at once, so I read it only up to page ${lastPage} of ${pages}. To ask about the rest, send those pages as a separate PDF.`,
    mediaBudget: (limit: number, hours: number) =>
      `You've sent today's ${limit} photos, voice notes and files, the most I take in a day. I still answer text; send media again in about ${hours} h.`,
    audioBudget: (seconds: number, left: number, limit: number, hours: number) =>
      `That recording is ${formatSeconds(seconds)} long, and ` +
      (left === 0
        ? `you've used all of today's ${formatSeconds(limit)} of listening.`
        : `only ${formatSeconds(left)} of today's ${formatSeconds(limit)} of listening is left.`) +
      ` Send a shorter one or write your question; the allowance starts again in about ${hours} h.`,
  },
};

export type Messages = typeof en;
