/**
 * `npm run demo`: the whole system on one machine, without keys. Starts the real bot
 * (`node dist/bot/main.js`, as users run it) against local stand-ins — the fake Telegram Bot API
 * and fake providers (the registry's first three; the first with two keys, failing now and then)
 * — and lets a person chat in the terminal as a Telegram user would. Under each answer it shows
 * which provider and (masked) key answered, and every failed attempt before it.
 *
 * Nothing leaves 127.0.0.1: the bot gets only made-up keys and runs in an empty directory, so
 * no real `.env` is read. /quit, Ctrl-D or Ctrl-C stops the bot (SIGTERM) and the stand-ins.
 */
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface, type Interface } from 'node:readline';
import type { Message, MessageEntity, Update } from 'grammy/types';
import { maskSecret, PROVIDERS } from '../providers';
import { type FakeProviderServer, startFakeProviderServer } from '../tests/fakes/provider-server';
import {
  type ApiCall,
  DEFAULT_TOKEN,
  type FakeTelegramServer,
  startFakeTelegramServer,
  type UserInput,
} from '../tests/fakes/telegram-server';
import { DIST, PROJECT_ROOT } from '../tests/helpers/built';
import { type SpawnedProcess, spawnBuilt } from '../tests/helpers/spawn-process';
import { type DemoAttempt, demoHandler } from './demo-model';

interface DemoOptions {
  readonly input: NodeJS.ReadableStream;
  readonly output: NodeJS.WritableStream;
  /** A person at a terminal: a prompt, and the streamed preview shown as it grows. */
  readonly interactive: boolean;
  /** Bold, italic, code … as terminal styles (default: when interactive). */
  readonly colors?: boolean;
  /** The demo user's Telegram language (`en`, `fa`): the bot's interface speaks it. */
  readonly language?: string;
  /** Aborted (Ctrl-C), the demo ends as on /quit. */
  readonly signal?: AbortSignal;
  /** Where the bot's JSON log lines go. */
  readonly logFile?: string;
  /** The built bot's entry point (default: the product build's, dist/bot/main.js). */
  readonly botEntry?: string;
}

const USER_ID = 4242;
const FAIL_EVERY = 3;

/** One provider of the demo's pool: its made-up keys and how long its stand-in takes to answer. */
export interface DemoProvider {
  readonly name: string;
  readonly envPrefix: string;
  readonly keys: readonly string[];
  readonly firstByteMs: number;
}

/** Made up, and as long as real keys, so masking shows as it would. */
function demoKey(name: string, index: number): string {
  return `${`DEMO-${name}-not-a-real-key-`.padEnd(36, '0')}${String(index).padStart(4, '0')}`;
}

/**
 * The pool: the first three providers in the registry's order, each a little slower than the one
 * before; the first (which answers most) has two keys and fails now and then.
 */
export const DEMO_PROVIDERS: readonly DemoProvider[] = PROVIDERS.slice(0, 3).map((descriptor, position) => ({
  name: descriptor.name,
  envPrefix: descriptor.envPrefix,
  keys: Array.from({ length: position === 0 ? 2 : 1 }, (_, index) => demoKey(descriptor.name, index + 1)),
  firstByteMs: [150, 250, 400][position] ?? 400,
}));
const FLAKY_PROVIDER = DEMO_PROVIDERS[0]?.name ?? '';
const FIRST_BYTE_MS: Readonly<Record<string, number>> = Object.fromEntries(
  DEMO_PROVIDERS.map((provider) => [provider.name, provider.firstByteMs]),
);
const CHUNK_DELAY_MS = 30;
const START_TIMEOUT_MS = 20_000;
/** Longer than the bot's own request deadline (60 s), so a slow answer still shows. */
const ANSWER_TIMEOUT_MS = 75_000;
const STOP_TIMEOUT_MS = 12_000;
const TICK_MS = 25;
const BOT_PREFIX = 'bot › ';
const INDENT = ' '.repeat(BOT_PREFIX.length);

type WaitOutcome = 'done' | 'timeout' | 'aborted' | 'exited';

/**
 * The bundled samples `/voice` and `/photo` send (made offline: espeak-ng and opusenc for the voice
 * note, a few lines of zlib for the picture; see the README in their folder).
 */
const SAMPLES = path.join(PROJECT_ROOT, 'scripts/demo-media');
const SAMPLE_VOICE = { file: 'voice.ogg', seconds: 4 };
const SAMPLE_PHOTO = 'photo.png';

/** Runs the demo until /quit, end of input or `signal`; resolves with the exit code. */
async function runDemo(options: DemoOptions): Promise<number> {
  const terminal = new Terminal(options.output, options.interactive, options.colors ?? options.interactive);
  // Ctrl-C reaches the demo as a signal, or, at a terminal in raw mode, through readline.
  const stopping = new AbortController();
  const signal = stopping.signal;
  if (options.signal?.aborted === true) stopping.abort();
  options.signal?.addEventListener('abort', () => stopping.abort(), { once: true });
  const attempts: DemoAttempt[] = [];
  let telegram: FakeTelegramServer | undefined;
  let providers: FakeProviderServer | undefined;
  let bot: SpawnedProcess | undefined;
  try {
    [telegram, providers] = await Promise.all([
      startFakeTelegramServer({ bot: { first_name: 'Switchboard Demo', username: 'switchboard_demo_bot' } }),
      startFakeProviderServer(),
    ]);
    providers.setHandler(
      demoHandler({
        flakyProvider: FLAKY_PROVIDER,
        failEvery: FAIL_EVERY,
        chunkDelayMs: CHUNK_DELAY_MS,
        firstByteMs: FIRST_BYTE_MS,
        onAttempt: (attempt) => attempts.push(attempt),
      }),
    );
    terminal.note('Starting the bot and its local stand-ins…');
    // Spawned in an empty directory (no `.env` is read); stopped if the demo itself dies, so that it
    // does not go on polling a fake that is gone.
    const botProcess = spawnBuilt(options.botEntry ?? path.join(DIST, 'bot/main.js'), {
      env: botEnvironment(telegram, providers),
      directoryPrefix: 'switchboard-demo-',
      ...(options.logFile === undefined ? {} : { logFile: options.logFile }),
      killOnParentExit: true,
      description: 'the bot',
    });
    bot = botProcess;
    const fakeTelegram = telegram;
    const pollingStarted = (record: Record<string, unknown>): boolean => record.msg === 'long polling started';
    let started = await waitUntil(
      () => botProcess.findRecord(pollingStarted) !== undefined,
      START_TIMEOUT_MS,
      signal,
      bot,
    );
    if (started === 'done') started = await waitUntil(() => fakeTelegram.isPolling, START_TIMEOUT_MS, signal, bot);
    if (started === 'aborted') return 0;
    if (started !== 'done') {
      terminal.line(`The bot did not start (${started}). Its last log lines:`);
      for (const line of bot.lines.slice(-10)) terminal.line(`  ${line}`);
      return 1;
    }
    terminal.banner(options.logFile);
    const session = new Session(telegram, bot, attempts, terminal, { ...options, signal }, () => stopping.abort());
    return await session.run();
  } finally {
    terminal.clearLive();
    if (bot !== undefined) {
      terminal.note('Stopping the bot (SIGTERM)…');
      const code = await bot.stop({ killAfterMs: STOP_TIMEOUT_MS });
      terminal.note(`The bot exited with code ${code ?? 'none'}. Bye!`);
    }
    await Promise.all([telegram?.stop(), providers?.stop()]);
  }
}

/** The bot's environment: nothing from ours (no real key can leak in), only the stand-ins. */
function botEnvironment(telegram: FakeTelegramServer, providers: FakeProviderServer): Record<string, string> {
  return {
    BOT_TOKEN: DEFAULT_TOKEN,
    TELEGRAM_API_ROOT: telegram.apiRoot,
    ADMIN_IDS: String(USER_ID),
    PROVIDER_ORDER: DEMO_PROVIDERS.map((provider) => provider.name).join(','),
    ...Object.fromEntries(
      DEMO_PROVIDERS.flatMap((provider) => [
        [`${provider.envPrefix}_API_KEYS`, provider.keys.join(',')],
        [`${provider.envPrefix}_BASE_URL`, providers.baseUrlFor(provider.name)],
      ]),
    ),
    // The demo shows the configured order and a fallback in it, whatever the hour: spending first
    // the quota that resets soonest would put a provider whose quota day turns at midnight Pacific
    // first for an hour each day.
    RESET_AWARE_SPENDING: 'false',
    LOG_LEVEL: 'debug',
  };
}

// ── the conversation ─────────────────────────────────────────────────────────

class Session {
  private readonly user: UserInput;
  private readonly lines: LineReader;
  private seenCalls = 0;
  private drafts = 0;

  constructor(
    private readonly telegram: FakeTelegramServer,
    private readonly bot: SpawnedProcess,
    private readonly attempts: DemoAttempt[],
    private readonly terminal: Terminal,
    private readonly options: DemoOptions,
    interrupt: () => void,
  ) {
    this.user = {
      id: USER_ID,
      first_name: 'Demo',
      last_name: 'User',
      username: 'demo_user',
      language_code: options.language ?? 'en',
    };
    this.lines = new LineReader(options.input, options.interactive ? options.output : undefined, options.signal);
    this.lines.onInterrupt(interrupt);
  }

  async run(): Promise<number> {
    try {
      for (;;) {
        const text = await this.readMessage();
        if (text === undefined || text === '/quit' || text === '/exit') return 0;
        if (text === '') continue;
        const outcome = await this.exchange(this.sender(text));
        if (outcome === 'aborted') return 0;
        if (outcome === 'exited') {
          this.terminal.line(
            `The bot stopped unexpectedly (exit code ${this.bot.child.exitCode}). Its last log lines:`,
          );
          for (const line of this.bot.lines.slice(-10)) this.terminal.line(`  ${line}`);
          return 1;
        }
      }
    } finally {
      this.lines.close();
    }
  }

  /** One message: lines ending with `\` continue on the next. Echoed when input is not a person's. */
  private async readMessage(): Promise<string | undefined> {
    const parts: string[] = [];
    for (;;) {
      const line = await this.lines.next(parts.length === 0 ? 'you › ' : '  …  ');
      if (line === undefined) return parts.length === 0 ? undefined : parts.join('\n').trim();
      if (!this.options.interactive) this.terminal.line(`${parts.length === 0 ? 'you › ' : '  …  '}${line}`);
      if (line.endsWith('\\')) {
        parts.push(line.slice(0, -1));
        continue;
      }
      parts.push(line);
      return expandTranslateTexts(parts.join('\n').trim());
    }
  }

  /**
   * How a line is sent: `/voice` sends the bundled voice note, `/photo [caption]` the bundled
   * picture (as a photo, with the caption); anything else is a text message.
   */
  private sender(text: string): () => Update {
    if (text === '/voice') {
      const content = readFileSync(path.join(SAMPLES, SAMPLE_VOICE.file));
      return () => this.telegram.sendVoice(this.user, { content, duration: SAMPLE_VOICE.seconds });
    }
    const photo = /^\/photo(?:\s+([\s\S]*))?$/.exec(text);
    if (photo !== null) {
      const content = readFileSync(path.join(SAMPLES, SAMPLE_PHOTO));
      const caption = photo[1]?.trim() ?? '';
      return () => this.telegram.sendPhoto(this.user, { content, ...(caption === '' ? {} : { caption }) });
    }
    return () => this.telegram.sendText(this.user, text);
  }

  /** Sends a message as the user, shows what the bot does until it has handled it, then who answered. */
  private async exchange(send: () => Update): Promise<WaitOutcome> {
    const firstAttempt = this.attempts.length;
    this.seenCalls = this.telegram.calls.length;
    this.drafts = 0;
    const started = performance.now();
    const update = send();
    this.terminal.live(`${BOT_PREFIX}…`);
    // The bot logs (at debug level, which the demo asks for) when it is done with an update.
    const handled = (entry: Record<string, unknown>): boolean =>
      entry.update_id === update.update_id && entry.msg === 'update handled';
    const outcome = await waitUntil(
      () => this.bot.findRecord(handled) !== undefined,
      ANSWER_TIMEOUT_MS,
      this.options.signal,
      this.bot,
      () => this.showCalls(),
    );
    this.showCalls();
    this.terminal.clearLive();
    if (outcome === 'timeout') this.terminal.line(`${BOT_PREFIX}(no reply within ${ANSWER_TIMEOUT_MS / 1000} s)`);
    if (outcome !== 'done') return outcome;

    const tried = this.attempts.slice(firstAttempt);
    if (tried.length > 0) {
      const outcome = (entry: Record<string, unknown>): boolean =>
        entry.update_id === update.update_id && ['answered', 'no answer', 'translated'].includes(String(entry.msg));
      await waitUntil(() => this.bot.findRecord(outcome) !== undefined, 1000, undefined, this.bot);
      const record = this.bot.findRecord(outcome);
      const elapsedMs = Math.round(performance.now() - started);
      for (const line of describeAttempts(tried, record, elapsedMs, this.drafts)) this.terminal.footer(line);
    }
    return 'done';
  }

  /** Prints the bot's new messages in this chat; shows the streamed preview while it grows. */
  private showCalls(): void {
    const calls = this.telegram.calls;
    for (; this.seenCalls < calls.length; this.seenCalls++) {
      const call = calls[this.seenCalls];
      if (call === undefined || !call.ok) continue;
      const message = sentMessage(call, this.user.id);
      if (message !== undefined) {
        const edited = call.method === 'editMessageText' ? '(edited) ' : '';
        this.terminal.message(`${edited}${this.terminal.render(message.text ?? '', message.entities ?? [])}`);
      } else if (call.method === 'sendMessageDraft' && Number(call.params.chat_id) === this.user.id) {
        this.drafts++;
        this.terminal.live(`${BOT_PREFIX}✎ ${String(call.params.text ?? '').replace(/\s+/g, ' ')}`);
      }
    }
  }
}

/** The message a successful sendMessage / editMessageText left in `chatId`, if the call was one. */
function sentMessage(call: ApiCall, chatId: number): Message | undefined {
  if (call.method !== 'sendMessage' && call.method !== 'editMessageText') return undefined;
  const result = call.response?.ok === true ? (call.response.result as Message | true) : undefined;
  if (result === undefined || result === true || result.chat?.id !== chatId) return undefined;
  return result;
}

/**
 * The lines under an answer: each failed attempt (what the fake providers were made to answer),
 * then who answered — from the bot's own `answered` log line when there is one.
 */
function describeAttempts(
  tried: readonly DemoAttempt[],
  record: Record<string, unknown> | undefined,
  elapsedMs: number,
  drafts: number,
): string[] {
  const key = (attempt: DemoAttempt) => (attempt.apiKey === undefined ? 'no key' : maskSecret(attempt.apiKey));
  const failed = tried.filter((attempt) => attempt.failure !== undefined);
  const lines = failed.map((attempt) => `✗ ${attempt.provider} · key ${key(attempt)} · ${attempt.failure} → fallback`);
  const fallback =
    failed.length === 0 ? '' : ` · after ${failed.length} failed attempt${failed.length === 1 ? '' : 's'}`;
  const streamed = drafts === 0 ? '' : ` · streamed in ${drafts} preview${drafts === 1 ? '' : 's'}`;
  if (record?.msg === 'answered') {
    const latency = typeof record.latencyMs === 'number' ? `${record.latencyMs} ms` : `${elapsedMs} ms`;
    lines.push(`✓ ${String(record.provider)} · key ${String(record.key)} · ${latency}${fallback}${streamed}`);
    return lines;
  }
  if (record?.msg === 'no answer') {
    lines.push(`✗ no provider could answer${fallback}`);
    return lines;
  }
  for (const attempt of tried.filter((entry) => entry.failure === undefined)) {
    lines.push(`✓ ${attempt.provider} · key ${key(attempt)} · ${elapsedMs} ms${fallback}`);
  }
  return lines;
}

/** `/translate fa hello | thank you` → the texts on lines of their own, as the bot reads them. */
export function expandTranslateTexts(text: string): string {
  if (!/^\/translate(@\w+)?\s/.test(text) || !text.includes('|')) return text;
  return text
    .split('|')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .join('\n');
}

// ── waiting ──────────────────────────────────────────────────────────────────

/** Checks `condition` every tick (running `tick` first) until it holds, time runs out, or the bot exits. */
async function waitUntil(
  condition: () => boolean,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  bot: SpawnedProcess | undefined,
  tick?: () => void,
): Promise<WaitOutcome> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    tick?.();
    if (condition()) return 'done';
    if (signal?.aborted === true) return 'aborted';
    if (bot !== undefined && !bot.running) return 'exited';
    if (performance.now() > deadline) return 'timeout';
    await new Promise((resolve) => setTimeout(resolve, TICK_MS));
  }
}

// ── the terminal ─────────────────────────────────────────────────────────────

/** Lines from `input`, one at a time, with a prompt when a person types them. */
class LineReader {
  private readonly queue: string[] = [];
  private ended = false;
  private wake: (() => void) | undefined;
  private readonly reader: Interface;
  private readonly terminal: boolean;
  /** A prompt waits for input: leaving now (Ctrl-C, Ctrl-D) first ends its line. */
  private prompting = false;

  constructor(
    input: NodeJS.ReadableStream,
    private readonly output: NodeJS.WritableStream | undefined,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.terminal = output !== undefined;
    this.reader = createInterface({ input, output, terminal: this.terminal });
    this.reader.on('line', (line) => {
      this.prompting = false;
      this.queue.push(line);
      this.wake?.();
    });
    this.reader.on('close', () => {
      this.endPromptLine();
      this.ended = true;
      this.wake?.();
    });
    signal?.addEventListener('abort', () => this.wake?.(), { once: true });
  }

  /** The next line, or undefined at the end of input or on abort. */
  async next(prompt: string): Promise<string | undefined> {
    if (this.terminal && this.queue.length === 0 && !this.ended && this.signal?.aborted !== true) {
      this.reader.setPrompt(prompt);
      this.reader.prompt();
      this.prompting = true;
    }
    while (this.queue.length === 0 && !this.ended && this.signal?.aborted !== true) {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = undefined;
    }
    if (this.signal?.aborted === true) return undefined;
    return this.queue.shift();
  }

  /** Ctrl-C at the prompt: a terminal in raw mode sends no signal, readline reports it. */
  onInterrupt(listener: () => void): void {
    this.reader.on('SIGINT', () => {
      this.endPromptLine();
      listener();
    });
  }

  private endPromptLine(): void {
    if (!this.prompting) return;
    this.prompting = false;
    this.output?.write('\n');
  }

  close(): void {
    this.reader.close();
  }
}

const STYLES: Readonly<Partial<Record<MessageEntity['type'], string>>> = {
  bold: '1',
  italic: '3',
  underline: '4',
  strikethrough: '9',
  code: '36',
  pre: '36',
  text_link: '4;34',
  url: '4;34',
  spoiler: '2',
  blockquote: '2',
};

class Terminal {
  private liveShown = false;

  constructor(
    private readonly output: NodeJS.WritableStream,
    private readonly interactive: boolean,
    private readonly colors: boolean,
  ) {}

  line(text: string): void {
    this.clearLive();
    this.output.write(`${text}\n`);
  }

  note(text: string): void {
    this.line(this.style('2', text));
  }

  /** A bot message: the first line after the prefix, the rest indented under it. */
  message(text: string): void {
    const [first = '', ...rest] = text.split('\n');
    const indented = rest.map((line) => (line.trim() === '' ? '' : `${INDENT}${line}`));
    this.line([`${this.style('1;32', BOT_PREFIX)}${first}`, ...indented].join('\n'));
  }

  footer(text: string): void {
    this.line(`${INDENT}${this.style('2', `↳ ${text}`)}`);
  }

  /** A line rewritten in place (the streamed preview); only for a person at a terminal. */
  live(text: string): void {
    if (!this.interactive) return;
    const width = Math.max(20, ((this.output as { columns?: number }).columns ?? 80) - 1);
    const shown = text.length > width ? `…${text.slice(text.length - width + 1)}` : text;
    this.output.write(`\r\x1b[2K${this.style('2', shown)}`);
    this.liveShown = true;
  }

  clearLive(): void {
    if (!this.liveShown) return;
    this.output.write('\r\x1b[2K');
    this.liveShown = false;
  }

  /** Telegram entities as terminal styles (bold, italic, code …); plain text when not a terminal. */
  render(text: string, entities: readonly MessageEntity[]): string {
    if (!this.colors || entities.length === 0) return text;
    const boundaries = new Set<number>([0, text.length]);
    for (const entity of entities) {
      boundaries.add(entity.offset);
      boundaries.add(entity.offset + entity.length);
    }
    const points = [...boundaries].filter((point) => point <= text.length).sort((left, right) => left - right);
    let rendered = '';
    for (let index = 0; index + 1 < points.length; index++) {
      const start = points[index] ?? 0;
      const end = points[index + 1] ?? text.length;
      const codes = entities
        .filter((entity) => entity.offset <= start && entity.offset + entity.length >= end)
        .map((entity) => STYLES[entity.type])
        .filter((code) => code !== undefined);
      const segment = text.slice(start, end);
      rendered += codes.length === 0 ? segment : `\x1b[${codes.join(';')}m${segment}\x1b[0m`;
    }
    return rendered;
  }

  banner(logFile: string | undefined): void {
    const heading = (text: string) => this.style('1', text);
    const lines = [
      '',
      heading('Switchboard demo') +
        ' — the real bot (dist/bot/main.js) with a fake Telegram and fake providers, all on 127.0.0.1.',
      `  providers: ${DEMO_PROVIDERS.map((provider, index) =>
        index === 0
          ? `${provider.name} (${provider.keys.length} keys; every ${ordinal(FAIL_EVERY)} request fails: a 503, then a 429)`
          : provider.name,
      ).join(', ')}.`,
      '  The keys are made up; no real key or network is used.',
      `  You are Demo User (id ${USER_ID}), an admin of the bot, so /stats works.`,
      '',
      `${heading('Type a message')} and press Enter. Try: hello · tell me a joke · show me some code · سلام`,
      '  commands:   /start  /help  /reset  /stats  /translate <language>',
      '  media:      /voice sends a bundled voice note; /photo [caption] a bundled picture',
      '  multi-line: end a line with \\ to continue the message on the next line, or',
      '              /translate fa hello | good morning | thank you   (texts split at |)',
      '  leave:      /quit, Ctrl-D or Ctrl-C',
      ...(logFile === undefined ? [] : [`  The bot's JSON log: ${logFile}`]),
      '',
    ];
    for (const line of lines) this.line(line);
  }

  private style(code: string, text: string): string {
    return this.colors ? `\x1b[${code}m${text}\x1b[0m` : text;
  }
}

function ordinal(value: number): string {
  return value === 1 ? '1st' : value === 2 ? '2nd' : value === 3 ? '3rd' : `${value}th`;
}

if (require.main === module) {
  const controller = new AbortController();
  const interactive = process.stdin.isTTY === true && process.stdout.isTTY === true;
  process.on('SIGINT', () => controller.abort());
  process.on('SIGTERM', () => controller.abort());
  const language = process.argv.includes('--fa') ? 'fa' : 'en';
  runDemo({
    input: process.stdin,
    output: process.stdout,
    interactive,
    colors: interactive && process.env.NO_COLOR === undefined,
    language,
    signal: controller.signal,
    logFile: path.join(tmpdir(), 'switchboard-demo-bot.log'),
  }).then(
    (code) => process.stdout.write('', () => process.exit(code)),
    (error: unknown) => {
      process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
