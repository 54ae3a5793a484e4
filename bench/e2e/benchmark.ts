import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { PROVIDERS } from '../../providers/registry';
import { type FakeProviderServer, startFakeProviderServer } from '../../tests/fakes/provider-server';
import { DEFAULT_TOKEN, type FakeTelegramServer, startFakeTelegramServer } from '../../tests/fakes/telegram-server';
import { startTestRedis, type TestRedis } from '../../tests/helpers/redis-server';
import { closedLoop, type Exchange, type LoadOutcome, openLoop, ReplyTracker, simulatedUser, sleep } from './load';
import { percentileOrNaN } from '../measure';
import {
  type BenchProcess,
  cpuTimeMs,
  DIST,
  DIST_TOOLS,
  PeakMemory,
  PROJECT_ROOT,
  STOP_GRACE_MS,
  sampleMemory,
  startBenchProcess,
} from './processes';

/**
 * The end-to-end benchmark (`npm run bench:e2e`): simulated users write to the real bot process
 * through the fake Telegram server; the bot answers from the fake providers, with its state in a
 * real Redis. The same load runs against a bare grammY echo bot on the same fakes, the ceiling of
 * this machine, and the two are compared side by side in one run, arms alternating so that noise
 * hits both.
 */

/**
 * The bots measured: the echo bot (the ceiling), the floor bot (one provider SDK call and one
 * reply per message, nothing else: floor-bot.ts), and Switchboard as it is deployed
 * (`node dist/bot/main.js` with the node arguments `npm start` and PM2 give it), answering whole
 * or streamed.
 */
export type ArmName =
  | 'echo'
  | 'floor'
  | 'switchboard'
  | 'switchboard-streamed'
  | 'switchboard-memory'
  /** Two Switchboard processes on one Redis (one polls, both handle): the scale-out of issue 10. */
  | 'switchboard-x2';

export interface E2eOptions {
  /** Simulated users of the throughput and latency phases. */
  readonly users: number;
  /** Throughput phase: messages each user sends, the next one when the previous is answered. */
  readonly messagesPerUser: number;
  /** Messages answered before measuring, per bot process (JIT, connections, Redis scripts loaded). */
  readonly warmupMessages: number;
  /** Latency phase: messages injected per second (open loop), and for how long. */
  readonly latencyRatePerSecond: number;
  readonly latencySeconds: number;
  /** The provider's own latency in the latency phase. */
  readonly providerDelayMs: number;
  /** Each arm runs this many times, in alternating order. */
  readonly rounds: number;
  /** Memory phase: distinct users after which RSS is measured (each sends one message). */
  readonly memoryCheckpoints: readonly number[];
  /** Memory phase: users writing at once. */
  readonly memoryConcurrency: number;
  /**
   * Memory phase: messages answered first, from `memoryConcurrency` recurring users, so that the
   * heap has grown to its size under this load before the distinct users are counted: growth
   * between checkpoints is then growth with users, not with load.
   */
  readonly memoryWarmupMessages: number;
  /** Also time streamed answers (STREAM_REPLIES=true) in the latency phase, once. */
  readonly streaming: boolean;
  /** Longest any phase may take before its unanswered messages are counted missing. */
  readonly phaseDeadlineMs: number;
  /** The arms compared (all three by default; one alone when profiling). The floor has no memory phase. */
  readonly arms: readonly ('echo' | 'floor' | 'switchboard')[];
  /** The intake phases (issue 10), for Switchboard with Redis and without, and the floor bot. */
  readonly intake: IntakeOptions | undefined;
}

/** The arms of the intake phases, all by default; fewer when profiling. */
export const INTAKE_ARMS = ['switchboard', 'switchboard-x2', 'switchboard-memory', 'floor'] as const;

export interface IntakeOptions {
  /** Closed loop: users, each sending the next message when the last is answered, to a provider answering in `providerDelayMs`. */
  readonly closedLoopUsers: number;
  readonly closedLoopMessagesPerUser: number;
  readonly closedLoopProviderDelayMs: number;
  /** Head of line: one answer takes `longAnswerMs` while other chats write `ratePerSecond` for `seconds`, to a provider answering in `providerDelayMs`. */
  readonly longAnswerMs: number;
  readonly headOfLineChats: number;
  readonly headOfLineRatePerSecond: number;
  readonly headOfLineSeconds: number;
  readonly headOfLineProviderDelayMs: number;
  readonly arms?: readonly (typeof INTAKE_ARMS)[number][];
}

export const DEFAULT_E2E_OPTIONS: E2eOptions = {
  users: 1000,
  messagesPerUser: 5,
  warmupMessages: 500,
  latencyRatePerSecond: 100,
  latencySeconds: 6,
  providerDelayMs: 300,
  rounds: 2,
  memoryCheckpoints: [1000, 5000, 10_000],
  memoryConcurrency: 200,
  memoryWarmupMessages: 3000,
  streaming: true,
  phaseDeadlineMs: 90_000,
  arms: ['echo', 'floor', 'switchboard'],
  intake: {
    closedLoopUsers: 200,
    closedLoopMessagesPerUser: 10,
    closedLoopProviderDelayMs: 300,
    longAnswerMs: 20_000,
    headOfLineChats: 160,
    headOfLineRatePerSecond: 32,
    headOfLineSeconds: 5,
    headOfLineProviderDelayMs: 200,
  },
};

/** One arm's intake phases. */
export interface IntakeRun {
  readonly arm: 'floor' | 'switchboard' | 'switchboard-memory' | 'switchboard-x2';
  /** Closed loop against a slow provider; its bound is users ÷ the provider's latency. */
  readonly closedLoop: PhaseResult;
  /** The other chats while one answer takes `longAnswerMs`. */
  readonly headOfLine: PhaseResult;
  /** Whether the long answer itself came (after the others). */
  readonly longAnswered: boolean;
}

/** p50 and p95 of one stage of the exchanges, in ms (NaN when the stage was not seen). */
export interface StageTime {
  readonly p50Ms: number;
  readonly p95Ms: number;
}

/** Where an exchange's time goes; the stages add up to its latency. */
export interface Stages {
  /** Injection → the getUpdates answer that carries the message (the bot's polling). */
  readonly delivery: StageTime;
  /** Delivery → the provider receives the request (the bot's work before the call). */
  readonly beforeProvider: StageTime;
  /** The provider's own time (its configured delay, plus the driver's timer lag). */
  readonly provider: StageTime;
  /** Provider answered (or, with no provider, delivery) → the final sendMessage answered. */
  readonly afterProvider: StageTime;
}

export interface PhaseResult {
  readonly updates: number;
  /** Answers that did not carry the question back, plus messages never answered. */
  readonly errors: number;
  /** Answers a second between the 10th and the 90th percentile answer (steady state). */
  readonly updatesPerSecond: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  /** CPU the bot process used per answered update (user + system). */
  readonly botCpuMsPerUpdate: number;
  readonly redisCpuMsPerUpdate: number;
  /** Commands Redis processed per answered update (commands inside scripts included). */
  readonly redisCommandsPerUpdate: number;
  /** getUpdates calls per answered update. */
  readonly pollsPerUpdate: number;
  /** CPU of this process (the fakes and the simulated users) per answered update. */
  readonly driverCpuMsPerUpdate: number;
  readonly stages: Stages;
}

export interface ArmRun {
  readonly arm: ArmName;
  readonly round: number;
  readonly throughput: PhaseResult | undefined;
  readonly latency: PhaseResult;
  readonly peakRssBytes: number;
}

export interface MemoryCheckpoint {
  readonly users: number;
  /** RSS once the answers drained, as the process had it (no collection forced). */
  readonly rssBytes: number;
  /** The heap still live after a full collection forced right after (see heap-probe.ts). */
  readonly liveHeapBytes: number;
}

export interface MemoryRun {
  readonly arm: ArmName;
  readonly checkpoints: readonly MemoryCheckpoint[];
  readonly peakRssBytes: number;
  readonly errors: number;
}

export interface E2eReport {
  readonly options: E2eOptions;
  readonly runs: readonly ArmRun[];
  readonly memory: readonly MemoryRun[];
  readonly intake: readonly IntakeRun[];
  readonly environment: { readonly node: string; readonly cores: number; readonly redis: string };
  readonly seconds: number;
}

interface Fixtures {
  readonly redis: TestRedis;
  readonly redisClient: Redis;
  readonly providers: FakeProviderServer;
  /** The fake providers' delay before answering, changed between phases. */
  providerDelayMs: number;
  /** A question containing this text is answered after `longDelayMs` instead (the head-of-line phase). */
  longMarker: string | undefined;
  longDelayMs: number;
  /** Told when the provider receives and answers each request (the running arm's tracker). */
  tracker: ReplyTracker | undefined;
}

export async function runE2eBenchmark(
  options: E2eOptions = DEFAULT_E2E_OPTIONS,
  log: (line: string) => void = () => undefined,
): Promise<E2eReport> {
  const started = performance.now();
  const fixtures = await startFixtures();
  try {
    const runs: ArmRun[] = [];
    for (let round = 1; round <= options.rounds; round++) {
      const order = round % 2 === 1 ? options.arms : [...options.arms].reverse();
      for (const arm of order) {
        log(`round ${round}: ${arm} …`);
        runs.push(await runArm(fixtures, arm, round, options));
      }
    }
    if (options.streaming && options.arms.includes('switchboard')) {
      log('streamed answers: switchboard …');
      runs.push(await runArm(fixtures, 'switchboard-streamed', 1, options));
    }
    const memory: MemoryRun[] = [];
    if (options.memoryCheckpoints.length > 0) {
      for (const arm of options.arms.filter((name) => name !== 'floor')) {
        log(`memory: ${arm} …`);
        memory.push(await runMemory(fixtures, arm, options));
      }
    }
    const intake: IntakeRun[] = [];
    if (options.intake !== undefined) {
      for (const arm of options.intake.arms ?? INTAKE_ARMS) {
        log(`intake: ${arm} …`);
        intake.push(await runIntake(fixtures, arm, options.intake, options));
      }
    }
    const info = await fixtures.redisClient.info('server');
    return {
      options,
      runs,
      memory,
      intake,
      environment: {
        node: process.version,
        cores: availableParallelism(),
        redis: /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown',
      },
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await stopFixtures(fixtures);
  }
}

async function startFixtures(): Promise<Fixtures> {
  const redis = await startTestRedis();
  const redisClient = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redisClient.connect();
  // Real providers keep connections alive; the fake's 1 s default would make every request connect.
  const providers = await startFakeProviderServer({ keepAliveTimeoutMs: 30_000, recordRequests: false });
  const fixtures: Fixtures = {
    redis,
    redisClient,
    providers,
    providerDelayMs: 0,
    longMarker: undefined,
    longDelayMs: 0,
    tracker: undefined,
  };
  providers.setHandler(async (request) => {
    const question = request.messages.at(-1)?.content ?? '';
    fixtures.tracker?.providerSaw(question, 'start');
    const long = fixtures.longMarker !== undefined && question.includes(fixtures.longMarker);
    const delayMs = long ? fixtures.longDelayMs : fixtures.providerDelayMs;
    if (delayMs > 0) await sleep(delayMs);
    fixtures.tracker?.providerSaw(question, 'end');
    return { type: 'reply', text: `echo: ${question}` };
  });
  return fixtures;
}

async function stopFixtures(fixtures: Fixtures): Promise<void> {
  fixtures.redisClient.disconnect();
  await fixtures.providers.stop();
  await fixtures.redis.stop();
}

/** The environment of each arm; Switchboard's lifts every limit so that none throttles the load. */
function armEnv(arm: ArmName, telegram: FakeTelegramServer, fixtures: Fixtures): Record<string, string> {
  const common = { BOT_TOKEN: DEFAULT_TOKEN, TELEGRAM_API_ROOT: telegram.apiRoot };
  if (arm === 'echo') return common;
  // The floor bot calls the first provider of the default order. Switchboard has every provider of
  // the registry configured (every SDK loaded, as in a real pool); the first answers everything
  // while it is healthy.
  const providers: Record<string, string> = {};
  for (const { name, envPrefix } of arm === 'floor' ? PROVIDERS.slice(0, 1) : PROVIDERS) {
    providers[`${envPrefix}_API_KEY`] = `bench-e2e-${name}-key-0000000000000000000001`;
    providers[`${envPrefix}_BASE_URL`] = fixtures.providers.baseUrlFor(name);
  }
  if (arm === 'floor') return { ...common, ...providers };
  const redis: Record<string, string> = arm === 'switchboard-memory' ? {} : { REDIS_URL: fixtures.redis.url };
  for (const { envPrefix } of PROVIDERS) {
    for (const limit of ['RPM', 'RPD', 'TPM', 'TPD']) providers[`${envPrefix}_${limit}`] = '0';
  }
  return {
    ...common,
    ...providers,
    ...redis,
    RATE_LIMIT_PER_MINUTE: '0',
    USER_DAILY_LIMIT: '0',
    STREAM_REPLIES: arm === 'switchboard-streamed' ? 'true' : 'false',
    LOG_LEVEL: 'info',
  };
}

function armScript(arm: ArmName): string {
  if (arm === 'echo') return path.join(DIST_TOOLS, 'bench/e2e/echo-bot.js');
  return arm === 'floor' ? path.join(DIST_TOOLS, 'bench/e2e/floor-bot.js') : path.join(DIST, 'bot/main.js');
}

interface Running {
  readonly telegram: FakeTelegramServer;
  readonly bot: BenchProcess;
  /** The arm's other processes (switchboard-x2's second), which handle but do not poll. */
  readonly others: readonly BenchProcess[];
  readonly tracker: ReplyTracker;
  readonly peak: PeakMemory;
}

/** A fresh fake Telegram server and bot process for one arm (and a clean Redis for Switchboard). */
async function startArm(
  fixtures: Fixtures,
  arm: ArmName,
  extraNodeArgs: readonly string[] = [],
  extraEnv: Record<string, string> = {},
): Promise<Running> {
  const telegram = await startFakeTelegramServer({ recordCalls: false });
  if (arm !== 'echo' && arm !== 'floor') await fixtures.redisClient.flushall();
  // Switchboard runs with the node arguments it is deployed with. BENCH_BOT_NODE_ARGS go to the
  // bots' node after those, for profiling: `--cpu-prof --cpu-prof-dir=/tmp/profiles`.
  const nodeArgs = [
    ...(arm === 'echo' || arm === 'floor' ? [] : deployedNodeArgs()),
    ...extraNodeArgs,
    ...(process.env.BENCH_BOT_NODE_ARGS ?? '').split(' ').filter((arg) => arg !== ''),
  ];
  const env = { ...armEnv(arm, telegram, fixtures), ...extraEnv };
  const bot = startBenchProcess(armScript(arm), env, nodeArgs);
  try {
    await Promise.race([
      telegram.waitForPolling({ timeoutMs: 30_000, description: `${arm} to start polling` }),
      bot.exited.then((code) => {
        throw new Error(`${arm} exited with ${code} before polling:\n${bot.lines.join('\n')}`);
      }),
    ]);
  } catch (error) {
    await bot.stop({ killAfterMs: 2000 });
    await telegram.stop();
    throw error;
  }
  const others: BenchProcess[] = [];
  if (arm === 'switchboard-x2') {
    // The second process finds the poller's lease taken: it only handles updates from the queue.
    const second = startBenchProcess(armScript(arm), env, nodeArgs);
    others.push(second);
    try {
      await second.waitForRecord((record) => record.msg === 'long polling started', 30_000);
    } catch (error) {
      await Promise.all([bot, second].map((process) => process.stop({ killAfterMs: 2000 })));
      await telegram.stop();
      throw error;
    }
  }
  const tracker = new ReplyTracker(telegram);
  fixtures.tracker = tracker;
  return { telegram, bot, others, tracker, peak: new PeakMemory(bot.pid) };
}

/**
 * The `node_args` PM2 runs the polling bot with (ecosystem.config.cjs; `npm start` passes the
 * same, as a test checks), so that the bench measures the bot as it is deployed.
 */
export function deployedNodeArgs(): string[] {
  const file = path.join(PROJECT_ROOT, 'ecosystem.config.cjs');
  const config = require(file) as { apps?: { name?: string; node_args?: string | string[] }[] };
  const args = config.apps?.find((app) => app.name === 'switchboard')?.node_args ?? [];
  return typeof args === 'string' ? args.split(' ').filter((arg) => arg !== '') : [...args];
}

async function stopArm(running: Running): Promise<number> {
  const peak = running.peak.peakBytes(true);
  running.tracker.close();
  const codes = await Promise.all(
    [running.bot, ...running.others].map((process) => process.stop({ killAfterMs: STOP_GRACE_MS })),
  );
  const code = codes.find((exit) => exit !== 0) ?? 0;
  await running.telegram.stop();
  if (code !== 0) throw new Error(`the bot exited with ${code}:\n${running.bot.lines.join('\n')}`);
  return peak;
}

/** `options.warmupMessages` answered at once by the provider, from up to 100 users, before measuring. */
async function warmUp(fixtures: Fixtures, running: Running, users: number, options: E2eOptions): Promise<void> {
  fixtures.providerDelayMs = 0;
  const warmupUsers = Math.max(1, Math.min(users, 100));
  await closedLoop(running.tracker, {
    users: warmupUsers,
    messagesPerUser: Math.max(1, Math.ceil(options.warmupMessages / warmupUsers)),
    tag: 'warm-up',
    deadlineMs: options.phaseDeadlineMs,
  });
}

async function runArm(fixtures: Fixtures, arm: ArmName, round: number, options: E2eOptions): Promise<ArmRun> {
  const running = await startArm(fixtures, arm);
  let throughput: PhaseResult | undefined;
  let latency: PhaseResult;
  try {
    await warmUp(fixtures, running, options.users, options);
    await sleep(200);
    if (arm !== 'switchboard-streamed') {
      throughput = await measure(fixtures, running, () =>
        closedLoop(running.tracker, {
          users: options.users,
          messagesPerUser: options.messagesPerUser,
          tag: `r${round}`,
          deadlineMs: options.phaseDeadlineMs,
        }),
      );
      await sleep(200);
    }
    fixtures.providerDelayMs = options.providerDelayMs;
    latency = await measure(fixtures, running, () =>
      openLoop(running.tracker, {
        users: options.users,
        ratePerSecond: options.latencyRatePerSecond,
        seconds: options.latencySeconds,
        tag: `l${round}`,
        drainMs: Math.min(options.phaseDeadlineMs, 30_000),
      }),
    );
  } finally {
    fixtures.providerDelayMs = 0;
  }
  const peakRssBytes = await stopArm(running);
  return { arm, round, throughput, latency, peakRssBytes };
}

/**
 * The intake phases of one arm (issue 10): a closed loop of many users against a slow provider,
 * where a bot that holds Telegram's offset at its oldest unfinished update (Telegram returns at
 * most 100 updates from it) cannot have more than about 100 answers in flight; and one long
 * answer while other chats write, which such a bot makes them wait for.
 */
async function runIntake(
  fixtures: Fixtures,
  arm: IntakeRun['arm'],
  intake: IntakeOptions,
  options: E2eOptions,
): Promise<IntakeRun> {
  // The long answer is a whole (not streamed) answer that takes `longAnswerMs`: the attempt
  // timeout is raised above it, and no hedge races it, so that it is answered, late, by the
  // provider that took it (the others' wait is what is measured).
  const running = await startArm(
    fixtures,
    arm,
    [],
    arm === 'floor'
      ? {}
      : {
          ATTEMPT_TIMEOUT_MS: String(intake.longAnswerMs + 10_000),
          REQUEST_DEADLINE_MS: String(intake.longAnswerMs + 20_000),
          HEDGE_MAX_SHARE: '0',
        },
  );
  let closed: PhaseResult;
  let headOfLine: PhaseResult;
  let longAnswered = false;
  try {
    await warmUp(fixtures, running, intake.closedLoopUsers, options);
    fixtures.providerDelayMs = intake.closedLoopProviderDelayMs;
    closed = await measure(fixtures, running, () =>
      closedLoop(running.tracker, {
        users: intake.closedLoopUsers,
        messagesPerUser: intake.closedLoopMessagesPerUser,
        tag: 'closed',
        deadlineMs: options.phaseDeadlineMs,
      }),
    );
    await sleep(200);
    fixtures.providerDelayMs = intake.headOfLineProviderDelayMs;
    fixtures.longMarker = 'LONG-ANSWER';
    fixtures.longDelayMs = intake.longAnswerMs;
    // The long one from a user of its own, far from the others' ids.
    const long = running.tracker.ask(simulatedUser(900_000), 'LONG-ANSWER please');
    await sleep(300); // it reached the provider: the others come after it
    headOfLine = await measure(fixtures, running, () =>
      openLoop(running.tracker, {
        users: intake.headOfLineChats,
        ratePerSecond: intake.headOfLineRatePerSecond,
        seconds: intake.headOfLineSeconds,
        tag: 'hol',
        drainMs: intake.longAnswerMs + 10_000,
      }),
    );
    const timer = setTimeout(() => running.tracker.abandon(), intake.longAnswerMs + 10_000);
    longAnswered = (await long) !== undefined;
    clearTimeout(timer);
  } finally {
    fixtures.providerDelayMs = 0;
    fixtures.longMarker = undefined;
  }
  await stopArm(running);
  return { arm, closedLoop: closed, headOfLine, longAnswered };
}

/** Runs one phase and sums up its answers and the CPU each process spent on them. */
async function measure(fixtures: Fixtures, running: Running, phase: () => Promise<LoadOutcome>): Promise<PhaseResult> {
  const redisPid = await redisServerPid(fixtures);
  // CPU of every process of the arm (switchboard-x2 has two).
  const botCpu = (): number => [running.bot, ...running.others].reduce((sum, bot) => sum + cpuTimeMs(bot.pid), 0);
  const botBefore = botCpu();
  const redisBefore = redisPid === undefined ? Number.NaN : cpuTimeMs(redisPid);
  const commandsBefore = await redisCommands(fixtures);
  const pollsBefore = running.tracker.polls;
  const driverBefore = process.cpuUsage();
  const outcome = await phase();
  const driver = process.cpuUsage(driverBefore);
  const bot = botCpu() - botBefore;
  const redis = redisPid === undefined ? Number.NaN : cpuTimeMs(redisPid) - redisBefore;
  // Less the first INFO of this measurement (each INFO counts the commands before itself).
  const commands = (await redisCommands(fixtures)) - commandsBefore - 1;
  const polls = running.tracker.polls - pollsBefore;
  return summarize(outcome, { bot, redis, driver: (driver.user + driver.system) / 1000 }, commands, polls);
}

async function redisCommands(fixtures: Fixtures): Promise<number> {
  const info = await fixtures.redisClient.info('stats');
  return Number(/total_commands_processed:(\d+)/.exec(info)?.[1] ?? Number.NaN);
}

async function redisServerPid(fixtures: Fixtures): Promise<number | undefined> {
  const info = await fixtures.redisClient.info('server');
  const pid = Number(/process_id:(\d+)/.exec(info)?.[1]);
  return Number.isFinite(pid) ? pid : undefined;
}

function summarize(
  outcome: LoadOutcome,
  cpuMs: { bot: number; redis: number; driver: number },
  redisCommands: number,
  polls: number,
): PhaseResult {
  const answered = outcome.exchanges;
  const latencies = answered.map((exchange) => exchange.latencyMs);
  const count = Math.max(1, answered.length);
  return {
    updates: answered.length,
    errors: answered.filter((exchange) => !exchange.ok).length + outcome.missing,
    updatesPerSecond: steadyRate(answered),
    p50Ms: percentileOrNaN(latencies, 0.5),
    p95Ms: percentileOrNaN(latencies, 0.95),
    p99Ms: percentileOrNaN(latencies, 0.99),
    botCpuMsPerUpdate: cpuMs.bot / count,
    redisCpuMsPerUpdate: cpuMs.redis / count,
    redisCommandsPerUpdate: redisCommands / count,
    pollsPerUpdate: polls / count,
    driverCpuMsPerUpdate: cpuMs.driver / count,
    stages: stagesOf(answered),
  };
}

function stagesOf(exchanges: readonly Exchange[]): Stages {
  const stage = (duration: (exchange: Exchange) => number | undefined): StageTime => {
    const values = exchanges
      .map(duration)
      .filter((value): value is number => value !== undefined && Number.isFinite(value));
    return { p50Ms: percentileOrNaN(values, 0.5), p95Ms: percentileOrNaN(values, 0.95) };
  };
  const difference = (later: number | undefined, earlier: number | undefined): number | undefined =>
    later === undefined || earlier === undefined ? undefined : later - earlier;
  return {
    delivery: stage((exchange) => exchange.deliveredMs),
    beforeProvider: stage((exchange) => difference(exchange.providerStartMs, exchange.deliveredMs)),
    provider: stage((exchange) => difference(exchange.providerEndMs, exchange.providerStartMs)),
    afterProvider: stage((exchange) => difference(exchange.latencyMs, exchange.providerEndMs ?? exchange.deliveredMs)),
  };
}

/** Answers per second between the 10th and the 90th percentile answer: no ramp-up, no drain. */
function steadyRate(exchanges: readonly Exchange[]): number {
  const times = exchanges.map((exchange) => exchange.repliedAt).sort((a, b) => a - b);
  if (times.length < 10) return Number.NaN;
  const first = Math.floor(times.length * 0.1);
  const last = Math.ceil(times.length * 0.9) - 1;
  const seconds = (times[last]! - times[first]!) / 1000;
  return seconds > 0 ? (last - first) / seconds : Number.NaN;
}

/**
 * Memory: distinct users, each sending one message, `memoryConcurrency` at a time, in one bot
 * process; after each checkpoint the load stops, the answers drain and RSS is read.
 */
async function runMemory(fixtures: Fixtures, arm: ArmName, options: E2eOptions): Promise<MemoryRun> {
  fixtures.providerDelayMs = 0;
  const probe = heapProbe();
  const running = await startArm(fixtures, arm, probe.nodeArgs, probe.env);
  const checkpoints: MemoryCheckpoint[] = [];
  let errors = 0;
  if (options.memoryWarmupMessages > 0) {
    const warmup = await closedLoop(running.tracker, {
      users: options.memoryConcurrency,
      messagesPerUser: Math.max(1, Math.ceil(options.memoryWarmupMessages / options.memoryConcurrency)),
      firstUser: 2_000_000,
      tag: 'mem warm-up',
      deadlineMs: options.phaseDeadlineMs,
    });
    errors += warmup.missing;
  }
  let next = 0;
  for (const checkpoint of options.memoryCheckpoints) {
    const deadline = performance.now() + options.phaseDeadlineMs;
    const worker = async (): Promise<void> => {
      while (next < checkpoint && performance.now() < deadline) {
        const index = next++;
        const exchange = await running.tracker.ask(simulatedUser(1_000_000 + index), `mem u${index}`);
        if (exchange === undefined || !exchange.ok) errors++;
      }
    };
    const timer = setTimeout(() => running.tracker.abandon(), options.phaseDeadlineMs);
    await Promise.all(Array.from({ length: options.memoryConcurrency }, worker));
    clearTimeout(timer);
    errors += Math.max(0, checkpoint - next);
    next = Math.max(next, checkpoint);
    await sleep(1000);
    const rssBytes = sampleMemory(running.bot.pid).rssBytes;
    checkpoints.push({ users: checkpoint, rssBytes, liveHeapBytes: await probe.read(running.bot.pid) });
  }
  const peakRssBytes = await stopArm(running);
  probe.dispose();
  return { arm, checkpoints, peakRssBytes, errors };
}

/** The heap probe of the memory phase (heap-probe.ts): node arguments, environment, and a reader. */
function heapProbe(): {
  nodeArgs: string[];
  env: Record<string, string>;
  read: (pid: number) => Promise<number>;
  dispose: () => void;
} {
  const directory = mkdtempSync(path.join(tmpdir(), 'switchboard-heap-'));
  const file = path.join(directory, 'probe.jsonl');
  writeFileSync(file, '');
  let seen = 0;
  return {
    nodeArgs: ['--expose-gc', '-r', path.join(DIST_TOOLS, 'bench/e2e/heap-probe.js')],
    env: { HEAP_PROBE_FILE: file },
    async read(pid) {
      process.kill(pid, 'SIGUSR2');
      // One more line per probe; a full collection of this heap takes well under a second.
      for (let waited = 0; waited < 5000; waited += 20) {
        const lines = readFileSync(file, 'utf8')
          .split('\n')
          .filter((line) => line !== '');
        if (lines.length > seen) {
          seen = lines.length;
          return (JSON.parse(lines.at(-1)!) as { heapUsed: number }).heapUsed;
        }
        await sleep(20);
      }
      return Number.NaN;
    },
    dispose: () => rmSync(directory, { recursive: true, force: true }),
  };
}
