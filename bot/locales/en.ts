/**
 * English interface texts. Every text the bot shows a user lives here and in fa.ts; the type of
 * this object is the list of texts, so a missing translation fails the build.
 */
import type { UserUsage } from '../services/usage';

/** `3 h 20 min`, or `45 min`. */
function formatDuration(minutes: number): string {
  const hours = Math.floor(minutes / 60);
  return hours === 0 ? `${minutes} min` : `${hours} h ${minutes % 60} min`;
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
    '/new — start a new conversation (/reset does the same at once)\n/reset — forget our conversation and start over\n/usage — your use today and what is left\n/stats — usage and quota (admins only)',
  commands: {
    start: 'Start and see what I can do',
    help: 'How to use the bot',
    reset: 'Forget our conversation',
    new: 'Start a new conversation',
    usage: 'Your use today and what is left',
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
    generic: 'Something went wrong on my side. Please try again.',
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
    left: 'left',
    thisMonth: 'this month',
    errors: 'errors',
    breaker: { closed: '🟢', open: '🔴 circuit open', 'half-open': '🟡 probing' },
    blocked: { bad: 'rejected key', quota: 'quota used up', cooldown: 'cooling down' } as Record<string, string>,
    until: (time: string) => `until ${time}`,
  },
};

export type Messages = typeof en;
