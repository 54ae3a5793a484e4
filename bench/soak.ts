/**
 * `npm run soak -- --minutes 30`: a chaos soak (issue 14). About 1,000 simulated users write to
 * three bot processes sharing one real Redis (polling mode: the durable intake), through the fake
 * Telegram server, answered by the fake providers; every few seconds a random fault hits one part:
 * a provider answering 5xx or 429 or hanging, a key revoked, Redis killed and restarted, Telegram
 * answering 429 or 5xx or dropping connections, a bot process killed with SIGKILL and started
 * again. At the end a report, and exit 1 on any violation:
 *
 * - a bot process exited when the soak did not kill it;
 * - a message neither answered nor told why (lost);
 * - an answer sent twice (unless its first copy went out within a second before a SIGKILL: the
 *   process died between Telegram taking the reply and Redis taking the acknowledgement, the one
 *   window the intake cannot close; such answers are counted apart), or a turn stored twice;
 * - a secret (a key, the bot token) in any output of the bots or in any message they sent;
 * - memory of a process that ran through the second half grew over it (the first process is not
 *   killed in the second half, so that one does).
 *
 * Options: `--minutes` (default 30), `--users` (1000), `--seed` (1), `--keep-logs`. Exit 2: it
 * could not run.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Message } from 'grammy/types';
import { Redis } from 'ioredis';
import { PROVIDERS } from '../providers/registry';
import { type Behaviour, type FakeProviderServer, startFakeProviderServer } from '../tests/fakes/provider-server';
import { DEFAULT_TOKEN, type FakeTelegramServer, startFakeTelegramServer } from '../tests/fakes/telegram-server';
import { startTestRedis, type TestRedis } from '../tests/helpers/redis-server';
import { spawnBuilt, type SpawnedProcess } from '../tests/helpers/spawn-process';
import { DIST } from '../tests/helpers/built';
import { deployedNodeArgs } from './e2e/benchmark';
import { sampleMemory } from './e2e/processes';
import { seededRandom } from './measure';

interface SoakOptions {
  /** Keep the bots' logs (their directory is printed) instead of deleting them. */
  readonly keepLogs: boolean;
  readonly minutes: number;
  readonly users: number;
  readonly seed: number;
}

const PROCESSES = 3;
const KEYS_PER_PROVIDER = 2;
/** How long a user waits for an answer before counting it missing (well past the request deadline). */
const ANSWER_WAIT_MS = 60_000;
const MB = 1024 * 1024;

function parseOptions(argv: readonly string[]): SoakOptions {
  const value = (name: string, fallback: number): number => {
    const index = argv.indexOf(`--${name}`);
    if (index === -1) return fallback;
    const parsed = Number(argv[index + 1]);
    if (!Number.isFinite(parsed) || parsed <= 0) throw new Error(`--${name} needs a positive number`);
    return parsed;
  };
  return {
    keepLogs: argv.includes('--keep-logs'),
    minutes: value('minutes', 30),
    users: Math.round(value('users', 1000)),
    seed: Math.round(value('seed', 1)),
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** What one user sent, and what came back in their chat. */
interface Sent {
  readonly userId: number;
  readonly text: string;
  readonly at: number;
}

class Soak {
  /** Answer delays and users' pauses. */
  private readonly rng: () => number;
  /** The storm alone, so that a seed gives the same faults in the same order, whatever the timing. */
  private readonly faultRng: () => number;
  private readonly bots: { process: SpawnedProcess; logFile: string; startedAt: number; killed: boolean }[] = [];
  private readonly unexpectedExits: string[] = [];
  private readonly sent: Sent[] = [];
  /** Bot messages per chat, in order. */
  private readonly replies = new Map<number, string[]>();
  /** When each reply was sent (same order as `replies`). */
  private readonly replyTimes = new Map<number, number[]>();
  /** When bot processes were killed with SIGKILL. */
  private readonly kills: number[] = [];
  private readonly waiting = new Map<number, () => void>();
  private readonly faults: string[] = [];
  private readonly memory = new Map<number, { at: number; rssBytes: number }[]>();
  private readonly providerFaults = new Map<string, { behaviour: 'error' | 'rate' | 'hang'; until: number }>();
  private readonly revokedKeys = new Set<string>();
  private readonly keys: string[] = [];
  private readonly logDirectory = mkdtempSync(path.join(tmpdir(), 'switchboard-soak-'));
  /** Every bot process's output, killed ones included. */
  private readonly logFiles: string[] = [];
  private ending = false;
  private started = 0;

  constructor(
    private readonly options: SoakOptions,
    private readonly redis: TestRedis,
    private readonly telegram: FakeTelegramServer,
    private readonly providers: FakeProviderServer,
  ) {
    this.rng = seededRandom(options.seed * 2 + 1);
    this.faultRng = seededRandom(options.seed);
  }

  private env(): Record<string, string> {
    const env: Record<string, string> = {
      BOT_TOKEN: DEFAULT_TOKEN,
      TELEGRAM_API_ROOT: this.telegram.apiRoot,
      REDIS_URL: this.redis.url,
      RATE_LIMIT_PER_MINUTE: '0',
      STREAM_REPLIES: 'false',
      ATTEMPT_TIMEOUT_MS: '3000',
      FIRST_TOKEN_TIMEOUT_MS: '3000',
      REQUEST_DEADLINE_MS: '15000',
      INTAKE_RECLAIM_IDLE_MS: '3000',
      LOG_LEVEL: 'info',
    };
    for (const { name, envPrefix } of PROVIDERS) {
      env[`${envPrefix}_API_KEYS`] = this.providerKeys(name).join(',');
      env[`${envPrefix}_BASE_URL`] = this.providers.baseUrlFor(name);
      for (const limit of ['RPM', 'RPD', 'TPM', 'TPD']) env[`${envPrefix}_${limit}`] = '0';
    }
    return env;
  }

  private providerKeys(name: string): string[] {
    return Array.from({ length: KEYS_PER_PROVIDER }, (_, index) => `soak-${name}-key-${index + 1}-0123456789abcdef`);
  }

  async run(): Promise<number> {
    for (const { name } of PROVIDERS) this.keys.push(...this.providerKeys(name));
    this.providers.setHandler((request) => this.answer(request.dialect, request.apiKey, request.messages));
    this.telegram.onCall((call) => {
      if (!call.ok || call.method !== 'sendMessage' || !call.response?.ok) return;
      const message = call.response.result as Message;
      const chatId = message.chat.id;
      const list = this.replies.get(chatId) ?? [];
      list.push(message.text ?? '');
      this.replies.set(chatId, list);
      const times = this.replyTimes.get(chatId) ?? [];
      times.push(performance.now());
      this.replyTimes.set(chatId, times);
      this.waiting.get(chatId)?.();
    });
    for (let index = 0; index < PROCESSES; index++) this.startBot(index);
    await this.telegram.waitForPolling({ timeoutMs: 30_000, description: 'a bot to poll' });

    this.started = performance.now();
    const durationMs = this.options.minutes * 60_000;
    const memoryTimer = setInterval(() => this.sampleMemory(), 2000);
    const users = Array.from({ length: this.options.users }, (_, index) => this.user(index, durationMs));
    const storm = this.storm(durationMs);
    await sleep(durationMs);
    this.ending = true;
    await storm;
    await Promise.all(users);
    clearInterval(memoryTimer);
    return this.report(durationMs);
  }

  /** The fake providers: echo the question, unless a fault is on for this provider or key. */
  private answer(
    provider: string,
    apiKey: string | undefined,
    messages: readonly { role: string; content: string }[],
  ): Behaviour {
    if (apiKey !== undefined && this.revokedKeys.has(apiKey)) {
      return {
        type: 'error',
        status: 401,
        body: { error: { message: 'Invalid API key', type: 'invalid_request_error' } },
      };
    }
    const fault = this.providerFaults.get(provider);
    if (fault !== undefined && fault.until > performance.now()) {
      if (fault.behaviour === 'hang') return { type: 'hang' };
      if (fault.behaviour === 'rate') {
        return {
          type: 'error',
          status: 429,
          body: { error: { message: 'Rate limit reached', type: 'rate_limit_exceeded' } },
          headers: { 'retry-after': '2' },
        };
      }
      return { type: 'error', status: 503, body: { error: { message: 'Service unavailable', type: 'server_error' } } };
    }
    const question = messages.at(-1)?.content ?? '';
    return { type: 'reply', text: `echo: ${question}`, delayMs: 50 + Math.floor(this.rng() * 250) };
  }

  private startBot(index: number): void {
    const logFile = path.join(this.logDirectory, `bot-${index}-${Date.now()}.log`);
    const process = spawnBuilt(path.join(DIST, 'bot/main.js'), {
      env: this.env(),
      nodeArgs: deployedNodeArgs(),
      keepLines: 40,
      logFile,
      directoryPrefix: 'switchboard-soak-',
      description: `bot ${index}`,
    });
    this.logFiles.push(logFile);
    const entry = { process, logFile, startedAt: performance.now(), killed: false };
    this.bots[index] = entry;
    void process.exited.then((code) => {
      if (!entry.killed && !this.ending) {
        this.unexpectedExits.push(
          `bot ${index} (pid ${process.pid}) exited with ${code}: ${process.lines.slice(-5).join(' | ')}`,
        );
      }
    });
  }

  /** One simulated user: a message, the answer (or not), a pause, again, until the soak ends. */
  private async user(index: number, durationMs: number): Promise<void> {
    const userId = 800_000_000 + index;
    const from = { id: userId, first_name: `Soak ${index}`, language_code: index % 3 === 0 ? 'fa' : 'en' };
    await sleep(this.rng() * Math.min(30_000, durationMs / 2));
    for (let turn = 1; !this.ending; turn++) {
      // Every third user writes Persian, with Persian digits: it must come back intact.
      const text = index % 3 === 0 ? `سلام ${index} پیام ${toPersianDigits(turn)}` : `soak u${index} m${turn}`;
      const before = this.replies.get(userId)?.length ?? 0;
      const answered = new Promise<void>((resolve) => {
        const timer = setTimeout(done, ANSWER_WAIT_MS);
        const check = (): void => {
          if ((this.replies.get(userId)?.length ?? 0) > before) done();
        };
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.waiting.set(userId, check);
      });
      this.sent.push({ userId, text, at: performance.now() });
      this.telegram.sendText(from, text);
      await answered;
      this.waiting.delete(userId);
      if (this.ending) break;
      await sleep(5_000 + this.rng() * 25_000);
    }
  }

  /** A random fault every 3–8 s, each lasting a few seconds. */
  private async storm(durationMs: number): Promise<void> {
    const stopAt = this.started + durationMs - 10_000; // the last seconds are calm, to drain
    while (performance.now() < stopAt && !this.ending) {
      await sleep(3000 + this.faultRng() * 5000);
      if (performance.now() >= stopAt) break;
      await this.fault();
    }
  }

  private async fault(): Promise<void> {
    const pick = <T>(items: readonly T[]): T => items[Math.floor(this.faultRng() * items.length)]!;
    const provider = pick(PROVIDERS).name;
    const kinds = [
      'provider-5xx',
      'provider-429',
      'provider-hang',
      'key-revoked',
      'redis-restart',
      'telegram-429',
      'telegram-5xx',
      'telegram-drop',
      'bot-kill',
    ] as const;
    const kind = pick(kinds);
    const at = ((performance.now() - this.started) / 1000).toFixed(0);
    this.faults.push(`${at}s ${kind}${kind.startsWith('provider') ? ` (${provider})` : ''}`);
    const forMs = 3000 + this.faultRng() * 7000;
    switch (kind) {
      case 'provider-5xx':
        this.providerFaults.set(provider, { behaviour: 'error', until: performance.now() + forMs });
        break;
      case 'provider-429':
        this.providerFaults.set(provider, { behaviour: 'rate', until: performance.now() + forMs });
        break;
      case 'provider-hang':
        this.providerFaults.set(provider, { behaviour: 'hang', until: performance.now() + forMs });
        break;
      case 'key-revoked': {
        // At most half the keys: the pool must keep answering.
        const candidates = this.keys.filter((key) => !this.revokedKeys.has(key));
        if (this.revokedKeys.size < this.keys.length / 2 && candidates.length > 0)
          this.revokedKeys.add(pick(candidates));
        break;
      }
      case 'redis-restart':
        await this.redis.kill();
        await sleep(500 + this.faultRng() * 2000);
        await this.redis.start();
        break;
      case 'telegram-429':
        this.telegram.failNext(
          'sendMessage',
          { error_code: 429, description: 'Too Many Requests: retry after 1', parameters: { retry_after: 1 } },
          3,
        );
        break;
      case 'telegram-5xx':
        this.telegram.failNext('*', { error_code: 502, description: 'Bad Gateway' }, 3);
        break;
      case 'telegram-drop':
        this.telegram.failNext('sendMessage', { drop: true }, 2);
        break;
      case 'bot-kill': {
        // In the second half the first process is spared, so that one process runs through it and
        // its memory over the half can be judged (kills come every minute or so: none would).
        const secondHalf = performance.now() - this.started >= (this.options.minutes * 60_000) / 2;
        const index = secondHalf
          ? 1 + Math.floor(this.faultRng() * (PROCESSES - 1))
          : Math.floor(this.faultRng() * PROCESSES);
        const bot = this.bots[index]!;
        bot.killed = true;
        this.kills.push(performance.now());
        bot.process.child.kill('SIGKILL');
        await bot.process.exited;
        await sleep(500 + this.faultRng() * 2000);
        this.startBot(index);
        break;
      }
    }
  }

  private sampleMemory(): void {
    const now = performance.now();
    for (const bot of this.bots) {
      if (!bot.process.running) continue;
      try {
        const samples = this.memory.get(bot.process.pid) ?? [];
        samples.push({ at: now, rssBytes: sampleMemory(bot.process.pid).rssBytes });
        this.memory.set(bot.process.pid, samples);
      } catch {
        // gone meanwhile
      }
    }
  }

  private async report(durationMs: number): Promise<number> {
    const violations: string[] = [];
    violations.push(...this.unexpectedExits.map((exit) => `unexpected exit: ${exit}`));

    // Every message answered (its echo came back) or told why (another message came), once.
    let answered = 0;
    let told = 0;
    let lost = 0;
    let duplicated = 0;
    let duplicatedAtKill = 0;
    const toldTexts = new Map<string, number>();
    const byUser = new Map<number, Sent[]>();
    for (const message of this.sent) byUser.set(message.userId, [...(byUser.get(message.userId) ?? []), message]);
    for (const [userId, messages] of byUser) {
      const replies = this.replies.get(userId) ?? [];
      const times = this.replyTimes.get(userId) ?? [];
      for (const message of messages) {
        const echoes = replies.filter((reply) => reply === `echo: ${message.text}`).length;
        if (echoes > 1) {
          // A process killed after Telegram took its reply and before its acknowledgement reached
          // Redis leaves the update to another, which answers it again (README, "Intake"): allowed
          // only when the first reply went out just before a SIGKILL.
          const first = times[replies.indexOf(`echo: ${message.text}`)] ?? Number.NaN;
          if (this.kills.some((kill) => kill >= first && kill - first <= 1000)) duplicatedAtKill += 1;
          else {
            duplicated += 1;
            violations.push(`answered ${echoes} times: "${message.text}"`);
          }
        }
        if (echoes >= 1) answered += 1;
      }
      const notices = replies.filter((reply) => !reply.startsWith('echo: '));
      for (const notice of notices) toldTexts.set(notice.slice(0, 60), (toldTexts.get(notice.slice(0, 60)) ?? 0) + 1);
      const unanswered = messages.filter((message) => !replies.includes(`echo: ${message.text}`)).length;
      // Each unanswered message needs a notice of its own.
      told += Math.min(unanswered, notices.length);
      if (unanswered > notices.length) {
        lost += unanswered - notices.length;
        violations.push(`user ${userId}: ${unanswered - notices.length} message(s) neither answered nor told why`);
      }
    }

    // Turns stored twice.
    const inspector = new Redis(this.redis.url, { lazyConnect: true, maxRetriesPerRequest: 2 });
    inspector.on('error', () => undefined);
    let duplicateTurns = 0;
    try {
      await inspector.connect();
      for (const userId of byUser.keys()) {
        const turns = (await inspector.lrange(`sb:history:{u:${userId}}`, 0, -1)).map(
          (entry) => (JSON.parse(entry) as { role: string; content: string }).content,
        );
        const userTurns = turns.filter((_, index) => index % 2 === 0);
        const repeated = userTurns.length - new Set(userTurns).size;
        if (repeated > 0) {
          duplicateTurns += repeated;
          violations.push(`user ${userId}: ${repeated} turn(s) stored twice`);
        }
      }
    } finally {
      inspector.disconnect();
    }

    // Secrets in any output or message.
    const secrets = [DEFAULT_TOKEN, ...this.keys];
    let secretHits = 0;
    for (const file of this.logFiles) {
      const text = readFileSync(file, 'utf8');
      for (const secret of secrets) {
        if (text.includes(secret)) {
          secretHits += 1;
          violations.push(`a secret (${secret.slice(0, 8)}…) in ${path.basename(file)}`);
        }
      }
    }
    for (const replies of this.replies.values()) {
      for (const reply of replies) {
        if (secrets.some((secret) => reply.includes(secret))) {
          secretHits += 1;
          violations.push('a secret in a message the bot sent');
        }
      }
    }

    // Memory of each process that ran through the second half: the last quarter against the third.
    const half = this.started + durationMs / 2;
    const memoryLines: string[] = [];
    for (const [pid, samples] of this.memory) {
      if (samples[0]!.at > half) continue;
      const third = samples.filter((sample) => sample.at >= half && sample.at < half + durationMs / 4);
      const fourth = samples.filter((sample) => sample.at >= half + durationMs / 4);
      if (third.length === 0 || fourth.length === 0) continue;
      const median = (values: number[]): number => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
      const before = median(third.map((sample) => sample.rssBytes));
      const after = median(fourth.map((sample) => sample.rssBytes));
      const growth = after - before;
      const limit = Math.max(20 * MB, before * 0.15);
      memoryLines.push(
        `  pid ${pid}: ${(before / MB).toFixed(1)} → ${(after / MB).toFixed(1)} MB (limit +${(limit / MB).toFixed(0)} MB)`,
      );
      if (growth > limit)
        violations.push(`memory of pid ${pid} grew ${(growth / MB).toFixed(1)} MB over the second half`);
    }

    const lines = [
      `Chaos soak: ${this.options.minutes} min, ${this.options.users} users, ${PROCESSES} bot processes (polling, one Redis), seed ${this.options.seed}`,
      `messages sent ${this.sent.length}: answered ${answered}, told why ${told}, lost ${lost}; answers sent twice ${duplicated} (and ${duplicatedAtKill} sent just before their process was killed, in the acknowledgement window); turns stored twice ${duplicateTurns}`,
      `faults ${this.faults.length}: ${this.faults.join(', ')}`,
      `notices users got (first 60 characters × count): ${[...toldTexts].map(([text, count]) => `"${text}" × ${count}`).join('; ') || 'none'}`,
      `unexpected process exits ${this.unexpectedExits.length}; secrets found ${secretHits}`,
      'memory (median RSS, third quarter → last quarter):',
      ...(memoryLines.length > 0 ? memoryLines : ['  no process ran through the whole second half']),
      violations.length === 0
        ? 'PASS: no violation'
        : `FAIL: ${violations.length} violation(s):\n  ${violations.slice(0, 30).join('\n  ')}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    return violations.length === 0 ? 0 : 1;
  }

  async stop(): Promise<void> {
    this.ending = true;
    for (const bot of this.bots) {
      if (bot.process.running) {
        bot.killed = true;
        await bot.process.stop({ signal: 'SIGTERM', killAfterMs: 12_000 });
      }
    }
    if (this.options.keepLogs) process.stdout.write(`bot logs kept in ${this.logDirectory}\n`);
    else rmSync(this.logDirectory, { recursive: true, force: true });
  }
}

function toPersianDigits(value: number): string {
  return String(value).replace(/\d/g, (digit) => '۰۱۲۳۴۵۶۷۸۹'[Number(digit)]!);
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const redis = await startTestRedis({ persistent: true });
  const telegram = await startFakeTelegramServer({ recordCalls: false });
  const providers = await startFakeProviderServer({ keepAliveTimeoutMs: 30_000, recordRequests: false });
  const soak = new Soak(options, redis, telegram, providers);
  let code = 2;
  try {
    code = await soak.run();
  } finally {
    await soak.stop();
    await telegram.stop();
    await providers.stop();
    await redis.stop();
  }
  process.exit(code);
}

main().catch((error: unknown) => {
  process.stderr.write(`soak failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(2);
});
