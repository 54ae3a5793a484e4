import { createHash, randomUUID } from 'node:crypto';
import type {
  AcquireResult,
  AttemptRecord,
  KeyBlock,
  QuotaCandidate,
  QuotaObservation,
  QuotaStore,
  StatsStore,
  WindowObservation,
} from '../ports';
import { maskSecret } from '../shared/secrets';
import {
  type ChatMessage,
  type ChatRequest,
  type ChatResult,
  type DailyResetZone,
  isProviderError,
  type InputKind,
  type KeyLimits,
  type ModelCapabilities,
  type Operation,
  ProviderError,
  type ProviderAdapter,
  type ProviderConfig,
  type ProviderErrorKind,
  type RateLimitSnapshot,
  type RateLimitWindow,
  type StreamEvent,
  TEXT_CHAT,
  type Usage,
} from '../types';
import { type BreakerState, CircuitBreaker } from './breaker';
import { type Clock, systemClock } from './clock';
import { canServe, type Needs, needsMedia, needsOf } from './capabilities';
import { type FailedAttempt, RouterError, type RouterErrorKind } from './errors';
import { type HealthSummary, HealthWindow } from './health';
import {
  adaptiveHedgeDelayMs,
  capHedgeDelayMs,
  HedgeBudget,
  HedgeScheduler,
  type HedgeWatch,
  RaceEvents,
} from './hedging';
import { outlookOf, type QuotaOutlook, spendLapsingFirst } from './spending';
import { orderProviders, type RoutingMode } from './policy';
import { nextQuotaDayStart, nextQuotaMonthStart, quotaDay } from './quota-day';
import { estimateInputTokens } from './token-estimate';

export interface RouterLogger {
  debug(details: object, message: string): void;
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

/**
 * How the router behaves: the one place its timings and thresholds are declared. Configuration
 * fills it from the environment (with `DEFAULT_ROUTER_SETTINGS` as defaults); tools and benches
 * start from the same defaults.
 */
export interface RouterSettings {
  readonly routing: RoutingMode;
  /** The whole request, every attempt and wait included. */
  readonly requestDeadlineMs: number;
  /** One attempt at a whole (non-streamed) answer. */
  readonly attemptTimeoutMs: number;
  /** One streamed attempt, until its first text arrives. */
  readonly firstTokenTimeoutMs: number;
  /** The longest silence in a stream once it has started. */
  readonly streamIdleTimeoutMs: number;
  readonly breakerFailureThreshold: number;
  readonly breakerOpenMs: number;
  /** How long a key that failed authentication stays out before it is tried again. */
  readonly authRecheckMs: number;
  /** Longest the router waits for a cooling key when nothing else is free (within the deadline). */
  readonly maxWaitMs: number;
  /**
   * Hedges may be at most this share of the last minute's requests; 0 turns hedging off. A hedge is
   * one backup attempt started when the first has said nothing for longer than its provider usually
   * takes (see `hedging.ts`).
   */
  readonly hedgeMaxShare: number;
  /** The shortest wait before a hedge, whatever the provider's recent latencies. */
  readonly hedgeMinDelayMs: number;
  /**
   * Spend first the quota that would otherwise lapse at its provider's daily reset (see
   * `spending.ts`); priority order still decides among providers with plenty left.
   */
  readonly resetAwareSpending: boolean;
}

export const DEFAULT_ROUTER_SETTINGS: RouterSettings = {
  routing: 'priority',
  requestDeadlineMs: 60_000,
  attemptTimeoutMs: 20_000,
  firstTokenTimeoutMs: 15_000,
  streamIdleTimeoutMs: 10_000,
  breakerFailureThreshold: 3,
  breakerOpenMs: 30_000,
  authRecheckMs: 6 * 60 * 60 * 1000,
  maxWaitMs: 10_000,
  hedgeMaxShare: 0.1,
  hedgeMinDelayMs: 1_500,
  resetAwareSpending: true,
};

/** Sees what the router does, as it happens (metrics). Observers must not throw. */
export interface RouterObserver {
  /** Every attempt, as it ends. */
  attempt?(record: AttemptRecord): void;
  /** A store write that runs behind the answer failed (`what`: quota settle, refund, stats). */
  backgroundWriteFailed?(what: string): void;
  /** A hedge ended: it answered first (`won`), or the attempt it backed up did. */
  hedge?(outcome: HedgeOutcome): void;
}

export interface HedgeOutcome {
  /** The provider and key the hedge went to. */
  readonly provider: string;
  readonly maskedKey: string;
  readonly won: boolean;
}

export interface RouterOptions extends RouterSettings {
  /** In priority order; providers without keys are left out. */
  readonly providers: readonly ProviderConfig[];
  readonly quotaStore: QuotaStore;
  readonly statsStore?: StatsStore;
  readonly clock?: Clock;
  readonly random?: () => number;
  readonly logger?: RouterLogger;
}

/** What the router knows of one provider at a moment, as plain data. */
export interface ProviderSnapshot {
  readonly name: string;
  readonly model: string;
  readonly dailyResetZone: DailyResetZone;
  readonly limits: KeyLimits;
  /**
   * The chat model's keys; `laneKeyIds`: the same key's ids in the provider's other models that
   * count a quota of their own (a transcription model), whose attempts the key's stats include.
   */
  readonly keys: readonly {
    readonly keyId: string;
    readonly maskedKey: string;
    readonly laneKeyIds: readonly string[];
  }[];
  readonly breaker: BreakerState;
  /** While the breaker is open: when it lets a probe through (epoch ms). */
  readonly breakerOpenUntil?: number;
  readonly health: HealthSummary;
}

export interface RouterSnapshot {
  readonly at: number;
  readonly providers: readonly ProviderSnapshot[];
}

/** A request to the pool: like a provider request, but the router picks model, key and timeouts. */
export interface RouteRequest {
  readonly messages: readonly ChatMessage[];
  /**
   * Shortens the conversation to fit a provider's token budget (the chat service trims history
   * here). Called per provider, and again with half the budget after a context-length error.
   */
  readonly fit?: (budgetTokens: number) => readonly ChatMessage[];
  readonly maxOutputTokens?: number;
  readonly temperature?: number;
  readonly json?: boolean;
  readonly signal?: AbortSignal;
  /** Overrides the configured overall deadline. */
  readonly deadlineMs?: number;
  /**
   * Providers to try first, in this order (a user's model preference), each with the model to ask
   * for (its configured one when omitted). The rest follow in the usual order, so a preferred
   * provider without quota, or failing, falls back to ordinary routing.
   */
  readonly prefer?: readonly RoutePreference[];
  /** Providers to try last (a regenerated answer goes, when it can, to another provider). */
  readonly avoid?: readonly string[];
  /**
   * What the models are asked to do: `chat` (the default), or `transcription` of the audio part of
   * the last user message (`Router.transcribe`).
   */
  readonly operation?: Operation;
}

/** A provider a request prefers, and the model it asks that provider for. */
export interface RoutePreference {
  readonly provider: string;
  readonly model?: string;
}

/** Who answered. */
export interface RouteInfo {
  readonly provider: string;
  readonly model: string;
  readonly keyId: string;
  readonly maskedKey: string;
  /** Attempts that failed before this one answered. */
  readonly failedAttempts: readonly FailedAttempt[];
}

export type RoutedResult = ChatResult & RouteInfo;

export type RoutedStreamEvent = ({ readonly type: 'start' } & RouteInfo) | StreamEvent;

/**
 * Reservation ids: unique across every process sharing a quota store (a random prefix per
 * process) and within one (a counter), without a UUID per request.
 */
const RESERVATION_PREFIX = `${randomUUID().slice(0, 13)}-`;
let reservationCounter = 0;

/** Room left for the answer and the provider's own framing when fitting a conversation. */
const DEFAULT_OUTPUT_ALLOWANCE = 1024;
const BUDGET_MARGIN_TOKENS = 64;
/** Cool-down after a 429 that did not say how long to wait. */
const DEFAULT_COOLDOWN_MS = 60_000;
/**
 * Refusals a provider answers before doing any work: unless its descriptor says it counts them,
 * they leave the key's request windows when refunded. Transient failures (a timeout after the
 * request was sent, a 5xx) and safety refusals keep their slot: the provider may have counted them.
 */
const UNCOUNTED_KINDS: ReadonlySet<ProviderErrorKind> = new Set<ProviderErrorKind>([
  'auth',
  'rate_limited',
  'quota_exhausted',
  'bad_request',
  'context_too_long',
]);

/** A hedge that could not start (no budget, no free key) is tried again this much later. */
const HEDGE_RETRY_MS = 250;
/** After a provider stalled, hedges of its attempts skip the budget this long. */
const STALL_EVIDENCE_MS = 30_000;

/** How often a provider's daily quota is read again for reset-aware spending. */
const OUTLOOK_REFRESH_MS = 15_000;

/** Background write failures of one kind are logged at most this often (the rest are counted). */
const WRITE_FAILURE_LOG_INTERVAL_MS = 60_000;
const MAX_ATTEMPTS_CAP = 30;

interface ProviderRuntime {
  /** The provider's name (what stats, logs and failures say). */
  readonly name: string;
  /**
   * This model's lane: the provider's name for its chat model, `<name>/<model>` for another of its
   * models (breakers, health and exclusions are per lane; so is the quota, by key id).
   */
  readonly id: string;
  /** The provider's chat model (the lanes every text chat uses); other lanes only serve media. */
  readonly main: boolean;
  readonly capabilities: ModelCapabilities;
  readonly contextWindowTokens: number;
  readonly limits: KeyLimits;
  readonly config: ProviderConfig;
  readonly adapter: ProviderAdapter;
  /** Hedge delays from recent health, recomputed at most once a second (a summary sorts samples). */
  hedgeDelays: { at: number; streaming: number; complete: number } | undefined;
  /** When it last stalled: an attempt lost to its hedge, or hung for a whole timeout. */
  stallSeenAt: number | undefined;
  /** Its daily quota as last read from the quota store, for reset-aware spending. */
  outlook: QuotaOutlook | undefined;
  outlookReading: boolean;
  readonly keys: readonly { readonly keyId: string; readonly secret: string; readonly masked: string }[];
  /** What the quota store is asked about (the same every request). */
  readonly candidates: readonly QuotaCandidate[];
  readonly breaker: CircuitBreaker;
  readonly health: HealthWindow;
}

/** The state of one request while the router works on it. */
interface Run {
  /** A stream's attempts are bounded by the first-token timeout; a whole answer's by the attempt timeout. */
  readonly streaming: boolean;
  readonly started: number;
  readonly deadlineAt: number;
  readonly request: RouteRequest;
  readonly failures: FailedAttempt[];
  /** What the request needs of a model (its operation and the kinds of its parts). */
  readonly needs: Needs;
  /** Whether it needs more than text chat: only then do a provider's other models serve it. */
  readonly media: boolean;
  /** Lanes not to try again for this request (transient failure, bad request, no fit). */
  readonly excluded: Set<string>;
  /** Providers asked for a shorter conversation after a context-length error. */
  readonly shrunk: Set<string>;
  attempts: number;
  waitedMs: number;
  /** At most one hedge per request. */
  hedged: boolean;
}

/** An attempt under way, until its first result (a stream's first event, or a whole answer). */
interface LiveAttempt {
  readonly plan: Plan;
  /** Releases what the attempt holds once it lost (a stream's iterator). */
  readonly release: () => void;
  done: boolean;
}

/** What can happen in a request's race: an attempt's first result, or its hedge deadline. */
type RaceEvent<T> =
  | { readonly type: 'answer'; readonly attempt: LiveAttempt; readonly value: T }
  | { readonly type: 'failure'; readonly attempt: LiveAttempt; readonly error: unknown }
  | { readonly type: 'hedge' };

const HEDGE_DUE: RaceEvent<never> = { type: 'hedge' };

/** Starts one attempt: its first result, and how to release it if it loses. */
type AttemptStarter<T> = (plan: Plan, request: ChatRequest) => { first: Promise<T>; release: () => void };

/** One attempt the router decided to make. */
interface Plan {
  readonly provider: ProviderRuntime;
  readonly keyId: string;
  readonly secret: string;
  readonly masked: string;
  readonly request: ChatRequest;
  readonly reservationId: string;
  readonly reservedTokens: number;
  /** The reservation counts seconds of audio, not tokens: reported token usage does not settle it. */
  readonly audioSeconds: boolean;
  /** What the attempt is, for the stats: a transcription (with its seconds of audio) or a chat with media. */
  readonly work: { readonly transcription: boolean; readonly media: boolean; readonly audioSeconds: number };
  readonly day: string;
  readonly fallback: boolean;
  readonly startedAt: number;
  readonly timeoutMs: number;
  /** Started as a hedge of another attempt. */
  hedge: boolean;
  /**
   * Ends this attempt alone, when a hedge may race it (the request's own signal ends every
   * attempt): `cancel` is set by the adapter as the attempt starts.
   */
  readonly cancelable: { cancel: (() => void) | undefined } | undefined;
}

type Decision =
  | { readonly type: 'attempt'; readonly plan: Plan }
  | { readonly type: 'wait'; readonly ms: number }
  | { readonly type: 'give-up'; readonly error: RouterError };

/**
 * The provider router: for each request it picks a provider and key, sends the request through
 * the adapter and, on failure, reacts to the error class and moves on, until an answer comes
 * back or the deadline passes. It is the only retry loop in the system, and it never names a
 * provider: everything provider-specific lives in adapters and configuration.
 */
export class Router {
  private readonly providers: readonly ProviderRuntime[];
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly maxAttempts: number;
  private readonly observers: RouterObserver[] = [];
  private readonly hedgeBudget: HedgeBudget;
  private readonly hedgeScheduler: HedgeScheduler;
  /** Per kind of background write: when a failure was last logged, and how many since. */
  private readonly writeFailures = new Map<string, { loggedAt: number; unlogged: number }>();

  constructor(private readonly options: RouterOptions) {
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.hedgeBudget = new HedgeBudget(options.hedgeMaxShare);
    this.hedgeScheduler = new HedgeScheduler(this.clock);
    const lane = (
      config: ProviderConfig,
      model: string,
      main: boolean,
      capabilities: ModelCapabilities,
      contextWindowTokens: number,
      limits: KeyLimits,
      sharedQuota = false,
    ): ProviderRuntime => {
      const name = config.descriptor.name;
      const id = main ? name : `${name}/${model}`;
      const keys = config.keys.map((secret) => ({
        // A model with a quota of its own counts under key ids of its own.
        keyId: keyIdFor(main || sharedQuota ? name : id, secret),
        secret,
        masked: maskSecret(secret),
      }));
      return {
        name,
        id,
        main,
        capabilities,
        contextWindowTokens,
        limits,
        config,
        adapter: createAdapter(main ? config : { ...config, model }, options),
        hedgeDelays: undefined,
        stallSeenAt: undefined,
        outlook: undefined,
        outlookReading: false,
        keys,
        candidates: keys.map((key) => ({ keyId: key.keyId, limits })),
        breaker: new CircuitBreaker({
          failureThreshold: options.breakerFailureThreshold,
          openMs: options.breakerOpenMs,
        }),
        health: new HealthWindow(),
      };
    };
    // Each provider's chat model, then its other models right behind it, in the configured order.
    this.providers = options.providers
      .filter((provider) => provider.keys.length > 0)
      .flatMap((config) => [
        lane(
          config,
          config.model,
          true,
          config.capabilities ?? TEXT_CHAT,
          config.descriptor.contextWindowTokens,
          config.limits,
        ),
        ...(config.extraModels ?? []).map((extra) =>
          lane(config, extra.model, false, extra, extra.contextWindowTokens, extra.limits, extra.sharedQuota),
        ),
      ]);
    const keyCount = this.providers.reduce((sum, provider) => sum + provider.keys.length, 0);
    this.maxAttempts = Math.min(MAX_ATTEMPTS_CAP, 2 * (this.providers.length + keyCount));
  }

  /** Provider names in configured order. */
  get providerNames(): string[] {
    return this.chatLanes().map((provider) => provider.name);
  }

  /**
   * Whether some configured model offers `operation` with every kind of input in `inputs` (a
   * caller can check before fetching media that nobody could take).
   */
  offers(operation: Operation, inputs: readonly InputKind[]): boolean {
    const needs: Needs = { operation, inputs: new Set(inputs) };
    const media = needsMedia(needs);
    return this.providers.some((provider) => (media || provider.main) && canServe(provider.capabilities, needs));
  }

  /** Adds an observer (metrics); returns a function that removes it. */
  observe(observer: RouterObserver): () => void {
    this.observers.push(observer);
    return () => {
      const index = this.observers.indexOf(observer);
      if (index !== -1) this.observers.splice(index, 1);
    };
  }

  /** Providers, keys (masked), breakers and health as plain data: for /stats, /readyz and /metrics. */
  snapshot(): RouterSnapshot {
    const at = this.clock.now();
    return {
      at,
      providers: this.chatLanes().map((provider) => ({
        name: provider.name,
        model: provider.adapter.model,
        dailyResetZone: provider.config.descriptor.dailyResetZone,
        limits: provider.limits,
        keys: provider.keys.map(({ keyId, secret, masked }) => ({
          keyId,
          maskedKey: masked,
          laneKeyIds: this.providers
            .filter((lane) => lane.name === provider.name && !lane.main)
            .flatMap((lane) => lane.keys.filter((key) => key.secret === secret && key.keyId !== keyId))
            .map((key) => key.keyId),
        })),
        breaker: provider.breaker.state(at),
        breakerOpenUntil: provider.breaker.openUntilAt(at),
        health: provider.health.summary(at),
      })),
    };
  }

  /** One answer from the pool, or a `RouterError` saying what was tried and why it failed. */
  async complete(request: RouteRequest): Promise<RoutedResult> {
    const run = this.begin(request, false);
    const transcription = run.needs.operation === 'transcription';
    const start: AttemptStarter<ChatResult> = (plan, attemptRequest) => ({
      first: transcription
        ? transcribeWith(plan.provider.adapter, attemptRequest, plan.secret)
        : plan.provider.adapter.complete(attemptRequest, plan.secret),
      release: noop,
    });
    while (true) {
      const won = await this.firstAnswer(run, start);
      if (won === undefined) continue;
      const { plan, value: result } = won;
      this.succeed(run, plan, result.usage, result.rateLimits, result.latencyMs, undefined);
      // Written out rather than spread: this is on every answer, and spreads are slow.
      return {
        text: result.text,
        finishReason: result.finishReason,
        rawFinishReason: result.rawFinishReason,
        usage: result.usage,
        model: result.model,
        latencyMs: result.latencyMs,
        rateLimits: result.rateLimits,
        provider: plan.provider.name,
        keyId: plan.keyId,
        maskedKey: plan.masked,
        failedAttempts: [...run.failures],
      };
    }
  }

  /**
   * What is said in the audio part of the last user message, from a model that offers
   * transcription, with the same key rotation, fallback and deadline as `complete`.
   */
  transcribe(request: Omit<RouteRequest, 'operation' | 'fit' | 'json'>): Promise<RoutedResult> {
    return this.complete({ ...request, operation: 'transcription' });
  }

  /**
   * A streamed answer (chat only). It falls over to another provider only until the first event has arrived;
   * after that a failure ends the stream with a `RouterError` of kind `interrupted`, so the caller
   * never gets two models' text glued together. The first event is `start`, naming who answers.
   * A hedge, too, races only for the first event: the stream that delivers it is the answer.
   */
  async *stream(request: RouteRequest): AsyncGenerator<RoutedStreamEvent> {
    const run = this.begin(request, true);
    const iterators = new Map<Plan, AsyncIterator<StreamEvent>>();
    const start: AttemptStarter<IteratorResult<StreamEvent>> = (plan, attemptRequest) => {
      const iterator = plan.provider.adapter.stream(attemptRequest, plan.secret)[Symbol.asyncIterator]();
      iterators.set(plan, iterator);
      return {
        first: iterator.next(),
        release: () => {
          iterators.delete(plan);
          iterator.return?.().catch(noop);
        },
      };
    };
    while (true) {
      const won = await this.firstAnswer(run, start);
      if (won === undefined) continue;
      const { plan, value: first } = won;
      const iterator = iterators.get(plan)!;
      iterators.clear();
      yield { type: 'start', ...this.routeInfo(run, plan, plan.request.model ?? plan.provider.adapter.model) };
      let delivered = 0;
      try {
        for (let step = first; !step.done; step = await iterator.next()) {
          const event = step.value;
          if (event.type === 'finish') {
            this.succeed(run, plan, event.usage, event.rateLimits, event.latencyMs, event.timeToFirstTokenMs);
          } else {
            delivered += event.text.length;
          }
          yield event;
        }
        return;
      } catch (error) {
        if (!isProviderError(error) && !(error instanceof Error && error.name === 'AbortError')) {
          // Not the provider's failure: the consumer stopped early or threw into us.
          throw error;
        }
        await this.fail(run, plan, error, true);
        throw this.giveUp(
          run,
          'interrupted',
          `the answer from ${plan.provider.name} broke off after ${delivered} characters`,
        );
      } finally {
        await iterator.return?.();
      }
    }
  }

  // ─── Attempts and hedges ─────────────────────────────────────────────────────────────────────

  /**
   * Plans an attempt and waits for its first result. When that takes longer than the provider
   * usually needs (and the hedge budget allows), one backup attempt starts on another provider;
   * the first to deliver wins and the other is aborted and refunded. Returns `undefined` when
   * every attempt started here failed (each failure already handled), so the caller plans again.
   */
  private async firstAnswer<T>(run: Run, start: AttemptStarter<T>): Promise<{ plan: Plan; value: T } | undefined> {
    const plan = await this.nextPlan(run);
    if (plan.cancelable === undefined || run.hedged) {
      // No race possible: the attempt alone, without the race's bookkeeping.
      const started = start(plan, plan.request);
      try {
        return { plan, value: await started.first };
      } catch (error) {
        await this.fail(run, plan, error);
        return undefined;
      }
    }
    const events = new RaceEvents<RaceEvent<T>>();
    const primary = this.launch(plan, start, events);
    const attempts: LiveAttempt[] = [primary];
    const dueAt = this.clock.now() + this.hedgeDelay(plan.provider, run.streaming, plan.timeoutMs);
    let watch: HedgeWatch | undefined = this.hedgeScheduler.watch(dueAt, () => events.push(HEDGE_DUE));
    try {
      while (true) {
        if (attempts.every((attempt) => attempt.done)) return undefined;
        const event = await events.next();
        if (event.type === 'hedge') {
          if (watch === undefined || run.hedged) continue;
          watch = undefined;
          const hedge = await this.startHedge(run, primary.plan, start, events);
          if (hedge !== 'retry') attempts.push(hedge);
          else if (!primary.done) {
            watch = this.hedgeScheduler.watch(this.clock.now() + HEDGE_RETRY_MS, () => events.push(HEDGE_DUE));
          }
          continue;
        }
        event.attempt.done = true;
        if (event.type === 'answer') {
          for (const other of attempts) if (!other.done) this.abandon(other, event.attempt);
          if (event.attempt.plan.hedge) this.notifyHedge(event.attempt.plan, true);
          return { plan: event.attempt.plan, value: event.value };
        }
        // No hedge after a failure: the next plan comes at once (from the caller, or the hedge under way).
        if (watch !== undefined) watch.cancelled = true;
        watch = undefined;
        if (event.attempt.plan.hedge) this.notifyHedge(event.attempt.plan, false);
        try {
          await this.fail(run, event.attempt.plan, event.error);
        } catch (error) {
          for (const other of attempts) if (!other.done) this.abandon(other, undefined);
          throw error;
        }
      }
    } finally {
      if (watch !== undefined) watch.cancelled = true;
    }
  }

  private launch<T>(plan: Plan, start: AttemptStarter<T>, events: RaceEvents<RaceEvent<T>>): LiveAttempt {
    const started = start(plan, plan.request);
    const attempt: LiveAttempt = { plan, release: started.release, done: false };
    started.first.then(
      (value) => events.push({ type: 'answer', attempt, value }),
      (error: unknown) => events.push({ type: 'failure', attempt, error }),
    );
    return attempt;
  }

  private hedgeDelay(provider: ProviderRuntime, streaming: boolean, timeoutMs: number): number {
    const now = this.clock.now();
    let delays = provider.hedgeDelays;
    if (delays === undefined || now - delays.at >= 1000 || now < delays.at) {
      const health = provider.health.summary(now);
      const minimum = this.options.hedgeMinDelayMs;
      delays = {
        at: now,
        streaming: adaptiveHedgeDelayMs(health, true, minimum),
        complete: adaptiveHedgeDelayMs(health, false, minimum),
      };
      provider.hedgeDelays = delays;
    }
    return capHedgeDelayMs(streaming ? delays.streaming : delays.complete, timeoutMs);
  }

  /**
   * One backup attempt on another provider, when one is free now and the budget allows; `retry`
   * when not yet (the caller asks again shortly, while its attempt is still silent). A hedge of
   * an attempt whose provider was seen stalling in the last half minute is not speculative and
   * does not wait for the budget: every request caught in a stall gets its backup.
   */
  private async startHedge<T>(
    run: Run,
    primary: Plan,
    start: AttemptStarter<T>,
    events: RaceEvents<RaceEvent<T>>,
  ): Promise<LiveAttempt | 'retry'> {
    const now = this.clock.now();
    const stallSeenAt = primary.provider.stallSeenAt;
    const stalling = stallSeenAt !== undefined && now >= stallSeenAt && now - stallSeenAt < STALL_EVIDENCE_MS;
    if (!this.hedgeBudget.tryTake(now, stalling)) return 'retry';
    // A hedge goes elsewhere: the provider that stalls is likely stalling for everyone.
    const name = primary.provider.name;
    const lane = primary.provider.id;
    const wasExcluded = run.excluded.has(lane);
    run.excluded.add(lane);
    let decision: Decision;
    try {
      decision = await this.decide(run);
    } finally {
      if (!wasExcluded) run.excluded.delete(lane);
    }
    if (decision.type !== 'attempt') {
      this.hedgeBudget.giveBack(now);
      return 'retry';
    }
    // Counted as hedged only now: the hedge's own plan was made with an abort controller of its own.
    run.hedged = true;
    decision.plan.hedge = true;
    this.options.logger?.info(
      { provider: name, key: primary.masked, hedge: decision.plan.provider.name },
      'no answer yet: hedging on another provider',
    );
    return this.launch(decision.plan, start, events);
  }

  /**
   * Aborts an attempt that lost the race and gives its reservation back. An attempt that lost to
   * its hedge had stalled: that counts toward its provider's breaker, so the next requests avoid
   * it instead of each waiting out a hedge delay.
   */
  private abandon(attempt: LiveAttempt, winner: LiveAttempt | undefined): void {
    attempt.done = true;
    attempt.plan.cancelable?.cancel?.();
    attempt.release();
    const { plan } = attempt;
    const now = this.clock.now();
    if (winner?.plan.hedge === true && !attempt.plan.hedge) {
      plan.provider.stallSeenAt = now;
      plan.provider.breaker.recordFailure(now, false);
      plan.provider.health.record({
        at: now,
        ok: false,
        latencyMs: performance.now() - plan.startedAt,
        timeToFirstTokenMs: undefined,
      });
    } else {
      plan.provider.breaker.recordNeutral();
    }
    if (plan.hedge) this.notifyHedge(plan, false);
    const store = this.options.quotaStore;
    this.background('refund', () =>
      store.settle({
        keyId: plan.keyId,
        reservationId: plan.reservationId,
        reservedTokens: plan.reservedTokens,
        actualTokens: 0,
        now,
        day: plan.day,
      }),
    );
  }

  private notifyHedge(plan: Plan, won: boolean): void {
    for (const observer of this.observers)
      observer.hedge?.({ provider: plan.provider.name, maskedKey: plan.masked, won });
  }

  // ─── Planning ────────────────────────────────────────────────────────────────────────────────

  private begin(request: RouteRequest, streaming: boolean): Run {
    const started = this.clock.now();
    if (this.hedgeBudget.enabled) this.hedgeBudget.noteRequest(started);
    const needs = needsOf(request.messages, request.operation);
    return {
      streaming,
      started,
      needs,
      media: needsMedia(needs),
      deadlineAt: started + (request.deadlineMs ?? this.options.requestDeadlineMs),
      request,
      failures: [],
      excluded: new Set(),
      shrunk: new Set(),
      attempts: 0,
      waitedMs: 0,
      hedged: false,
    };
  }

  /** Decides the next attempt, waiting for a cooling key when that is the best option. */
  private async nextPlan(run: Run): Promise<Plan> {
    while (true) {
      const decision = await this.decide(run);
      if (decision.type === 'attempt') return decision.plan;
      if (decision.type === 'give-up') throw decision.error;
      try {
        await this.clock.sleep(decision.ms, run.request.signal);
      } catch {
        throw this.giveUp(run, 'cancelled', 'the request was cancelled');
      }
      run.waitedMs += decision.ms;
    }
  }

  private async decide(run: Run): Promise<Decision> {
    const now = this.clock.now();
    if (run.request.signal?.aborted)
      return { type: 'give-up', error: this.giveUp(run, 'cancelled', 'the request was cancelled') };
    if (this.providers.length === 0) {
      return { type: 'give-up', error: this.giveUp(run, 'no_providers', 'no provider has an API key configured') };
    }
    if (!this.providers.some((provider) => this.serves(provider, run))) {
      const wanted = [...run.needs.inputs].join(', ');
      return {
        type: 'give-up',
        error: this.giveUp(
          run,
          'no_capability',
          `no configured model offers ${run.needs.operation} with ${wanted === '' ? 'no input' : wanted}`,
        ),
      };
    }
    if (now >= run.deadlineAt)
      return { type: 'give-up', error: this.giveUp(run, 'deadline', 'the request ran out of time') };
    if (run.attempts >= this.maxAttempts) {
      return { type: 'give-up', error: this.giveUp(run, 'unavailable', `gave up after ${run.attempts} attempts`) };
    }

    const blocks: KeyBlock[] = [];
    let breakersOpen = 0;
    for (const provider of preferred(this.orderedProviders(now), run.request)) {
      if (run.excluded.has(provider.id) || !this.serves(provider, run)) continue;
      if (!provider.breaker.tryEnter(now)) {
        breakersOpen += 1;
        continue;
      }
      const plan = await this.tryReserve(run, provider, now, blocks);
      if (plan !== undefined) return { type: 'attempt', plan };
      provider.breaker.cancelEntry();
    }
    return this.noProviderFree(run, now, blocks, breakersOpen);
  }

  /**
   * Whether a lane may take this request: its model can take every part of it, and, for plain text
   * chat, it is the provider's chat model (its other models are kept for the media they take).
   */
  private serves(provider: ProviderRuntime, run: Run): boolean {
    if (!run.media && !provider.main) return false;
    return canServe(provider.capabilities, run.needs);
  }

  /** Each provider's chat model: what snapshots and provider lists show. */
  private chatLanes(): ProviderRuntime[] {
    return this.providers.filter((provider) => provider.main);
  }

  private orderedProviders(now: number): readonly ProviderRuntime[] {
    let ordered = this.providers;
    // Priority order ignores health; summarising it sorts every provider's recent latencies.
    if (this.options.routing !== 'priority') {
      const byName = new Map(this.providers.map((provider) => [provider.id, provider]));
      const candidates = this.providers.map((provider) => ({
        name: provider.id,
        health: provider.health.summary(now),
      }));
      ordered = orderProviders(candidates, this.options.routing, this.random).map(
        (candidate) => byName.get(candidate.name)!,
      );
    }
    if (!this.options.resetAwareSpending) return ordered;
    for (const provider of this.providers) this.refreshOutlook(provider, now);
    return spendLapsingFirst(ordered, (provider) => provider.outlook, now);
  }

  /** Reads a provider's daily quota from the store when the last reading is stale (in the background). */
  private refreshOutlook(provider: ProviderRuntime, now: number): void {
    const last = provider.outlook;
    if (provider.outlookReading || (last !== undefined && now - last.at < OUTLOOK_REFRESH_MS && now >= last.at)) return;
    provider.outlookReading = true;
    const zone = provider.config.descriptor.dailyResetZone;
    const keyIds = provider.keys.map((key) => key.keyId);
    this.options.quotaStore
      .usage(keyIds, now, quotaDay(now, zone))
      .then((usages) => {
        provider.outlook = outlookOf(usages, provider.limits, nextQuotaDayStart(now, zone), now);
      })
      .catch(() => undefined) // a store away: keep the last reading; the next request asks again
      .finally(() => {
        provider.outlookReading = false;
      });
  }

  /** Fits the conversation to the provider and reserves a key for it, or records why none is free. */
  private async tryReserve(
    run: Run,
    provider: ProviderRuntime,
    now: number,
    blocks: KeyBlock[],
  ): Promise<Plan | undefined> {
    const name = provider.id;
    const outputAllowance = run.request.maxOutputTokens ?? DEFAULT_OUTPUT_ALLOWANCE;
    const fitted = this.fitMessages(run, provider, outputAllowance);
    if (fitted === undefined) return undefined;
    const messages = run.media ? onlyTaken(fitted, provider.capabilities) : fitted;
    // A speech-to-text model counts seconds of audio (its limits do); a chat model, tokens.
    const countsSeconds = run.needs.operation === 'transcription' && !provider.capabilities.operations.includes('chat');
    const reservedTokens = countsSeconds ? audioSeconds(messages) : estimateInputTokens(messages) + outputAllowance;
    const day = quotaDay(now, provider.config.descriptor.dailyResetZone);
    const reservationId = `${RESERVATION_PREFIX}${++reservationCounter}`;

    let acquired: AcquireResult;
    try {
      acquired = await this.options.quotaStore.acquire({
        candidates: provider.candidates,
        tokens: reservedTokens,
        reservationId,
        now,
        day,
      });
    } catch (error) {
      this.options.logger?.error({ provider: name, err: error }, 'quota store failed; provider skipped');
      return undefined;
    }
    if (!acquired.ok) {
      const zone = provider.config.descriptor.dailyResetZone;
      for (const block of acquired.blocks) {
        blocks.push(
          block.until === undefined && block.reason !== 'too_large'
            ? {
                ...block,
                until: block.reason === 'monthly' ? nextQuotaMonthStart(now, zone) : nextQuotaDayStart(now, zone),
              }
            : block,
        );
      }
      if (acquired.blocks.every((block) => block.reason === 'too_large')) run.excluded.add(name);
      return undefined;
    }
    const key = provider.keys.find((candidate) => candidate.keyId === acquired.keyId)!;
    const remaining = run.deadlineAt - now;
    const limit = run.streaming ? this.options.firstTokenTimeoutMs : this.options.attemptTimeoutMs;
    const timeoutMs = Math.max(1, Math.min(limit, remaining));
    run.attempts += 1;
    // A way to end this attempt alone, only when a hedge may race it.
    const cancelable: Plan['cancelable'] = this.hedgeBudget.enabled && !run.hedged ? { cancel: undefined } : undefined;
    return {
      provider,
      keyId: key.keyId,
      secret: key.secret,
      masked: key.masked,
      reservationId,
      reservedTokens,
      audioSeconds: countsSeconds,
      work: {
        transcription: run.needs.operation === 'transcription',
        media: run.media,
        audioSeconds: run.needs.operation === 'transcription' ? audioSeconds(messages) : 0,
      },
      day,
      fallback: run.failures.length > 0,
      startedAt: performance.now(),
      timeoutMs,
      hedge: false,
      cancelable,
      request: {
        messages,
        // A preferred model replaces the chat model only: a provider's other lanes keep theirs.
        model: provider.main
          ? run.request.prefer?.find((preference) => preference.provider === name)?.model
          : undefined,
        maxOutputTokens: run.request.maxOutputTokens,
        temperature: run.request.temperature,
        json: run.request.json,
        signal: run.request.signal,
        onCancelable:
          cancelable === undefined
            ? undefined
            : (cancel) => {
                cancelable.cancel = cancel;
              },
        timeoutMs,
        idleTimeoutMs: this.options.streamIdleTimeoutMs,
      },
    };
  }

  /** The conversation fitted to the provider's token budget, or `undefined` when it cannot fit. */
  private fitMessages(
    run: Run,
    provider: ProviderRuntime,
    outputAllowance: number,
  ): readonly ChatMessage[] | undefined {
    const name = provider.id;
    if (run.request.fit === undefined) return run.request.messages;
    const window = Math.min(provider.contextWindowTokens, provider.limits.tokensPerMinute ?? Number.POSITIVE_INFINITY);
    const shrink = run.shrunk.has(name) ? 0.5 : 1;
    const budget = Math.floor((window - outputAllowance - BUDGET_MARGIN_TOKENS) * shrink);
    if (budget <= 0) {
      run.excluded.add(name);
      return undefined;
    }
    return run.request.fit(budget);
  }

  /** Nothing could be attempted now: wait for the earliest key if it is soon, else give up. */
  private noProviderFree(run: Run, now: number, blocks: readonly KeyBlock[], breakersOpen: number): Decision {
    const usable = blocks.filter((block) => block.reason !== 'bad' && block.reason !== 'too_large');
    const earliest = Math.min(...usable.map((block) => block.until ?? Number.POSITIVE_INFINITY));
    const maxWait = this.options.maxWaitMs;
    if (Number.isFinite(earliest)) {
      const waitMs = Math.max(1, earliest - now);
      if (earliest < run.deadlineAt && run.waitedMs + waitMs <= maxWait) return { type: 'wait', ms: waitMs };
    }
    const retryAfterMs = Number.isFinite(earliest) ? Math.max(0, earliest - now) : undefined;
    const onlyTooLong = run.failures.length > 0 && run.failures.every((failure) => failure.kind === 'context_too_long');
    let kind: RouterErrorKind;
    if (onlyTooLong || (blocks.length > 0 && blocks.every((block) => block.reason === 'too_large')))
      kind = 'context_too_long';
    else if (usable.length > 0 && run.failures.every((failure) => isQuotaKind(failure.kind))) kind = 'no_capacity';
    else kind = 'unavailable';
    const summary =
      kind === 'no_capacity'
        ? 'every key is busy or out of quota'
        : kind === 'context_too_long'
          ? 'the conversation is too long for every provider'
          : breakersOpen > 0 && run.failures.length === 0
            ? 'every provider is failing right now'
            : 'no provider could answer';
    return { type: 'give-up', error: this.giveUp(run, kind, summary, retryAfterMs) };
  }

  // ─── Outcomes ────────────────────────────────────────────────────────────────────────────────

  private succeed(
    run: Run,
    plan: Plan,
    usage: Usage,
    rateLimits: RateLimitSnapshot | undefined,
    providerLatencyMs: number,
    timeToFirstTokenMs: number | undefined,
  ): void {
    const now = this.clock.now();
    const { name } = plan.provider;
    plan.provider.breaker.recordSuccess();
    plan.provider.health.record({ at: now, ok: true, latencyMs: providerLatencyMs, timeToFirstTokenMs });
    const actual = plan.audioSeconds
      ? undefined
      : (usage.totalTokens ?? sumDefined(usage.inputTokens, usage.outputTokens));
    const store = this.options.quotaStore;
    this.background('quota settle', async () => {
      // Issued together (settle first): a shared store sends both in one round trip, in this order.
      await Promise.all([
        actual === undefined
          ? undefined
          : store.settle({
              keyId: plan.keyId,
              reservationId: plan.reservationId,
              reservedTokens: plan.reservedTokens,
              actualTokens: actual,
              now,
              day: plan.day,
            }),
        rateLimits === undefined ? undefined : store.observe(plan.keyId, toObservation(rateLimits, now), now, plan.day),
      ]);
    });
    this.recordStats(plan, 'success', now, usage);
    if (plan.fallback) {
      this.options.logger?.info(
        {
          provider: name,
          key: plan.masked,
          after: run.failures.map((failure) => `${failure.provider}:${failure.kind}`),
        },
        'answered after fallback',
      );
    }
  }

  /** Reacts to a failed attempt according to its class; throws when the request must stop. */
  private async fail(run: Run, plan: Plan, error: unknown, committed = false): Promise<void> {
    const now = this.clock.now();
    const { name, id: lane } = plan.provider;
    const failure = asProviderError(error, name);
    const elapsed = performance.now() - plan.startedAt;
    run.failures.push({
      provider: name,
      maskedKey: plan.masked,
      kind: failure.kind,
      status: failure.status,
      message: failure.message,
    });
    this.recordStats(plan, failure.kind, now, undefined, elapsed);
    plan.provider.health.record({
      at: now,
      ok: failure.kind !== 'transient',
      latencyMs: elapsed,
      timeToFirstTokenMs: undefined,
    });
    this.options.logger?.warn(
      { provider: name, key: plan.masked, kind: failure.kind, status: failure.status, err: failure.message },
      'provider attempt failed',
    );

    const store = this.options.quotaStore;
    // A refusal the provider did not count (it says so in docs/providers.md) frees the key's slot
    // too; anything it may have worked on keeps its slot and gives back only the tokens.
    const uncount = UNCOUNTED_KINDS.has(failure.kind) && plan.provider.config.descriptor.refusalsCounted !== true;
    const refund = (): Promise<void> =>
      store.settle({
        keyId: plan.keyId,
        reservationId: plan.reservationId,
        reservedTokens: plan.reservedTokens,
        actualTokens: 0,
        uncount,
        now,
        day: plan.day,
      });
    const observe = async (): Promise<void> => {
      if (failure.rateLimits !== undefined)
        await store.observe(plan.keyId, toObservation(failure.rateLimits, now), now, plan.day);
    };

    if (run.request.signal?.aborted) throw this.giveUp(run, 'cancelled', 'the request was cancelled');

    switch (failure.kind) {
      case 'auth':
        plan.provider.breaker.recordNeutral();
        await this.guard(() => store.block(plan.keyId, 'bad', now + this.options.authRecheckMs, now));
        this.background('refund', refund);
        this.options.logger?.error({ provider: name, key: plan.masked }, 'key rejected by provider; set aside');
        return;
      case 'rate_limited': {
        plan.provider.breaker.recordNeutral();
        const until = now + (failure.retryAfterMs ?? resetFromSnapshot(failure.rateLimits) ?? DEFAULT_COOLDOWN_MS);
        await this.guard(observe);
        await this.guard(() => store.block(plan.keyId, 'cooldown', until, now));
        this.background('refund', refund);
        return;
      }
      case 'quota_exhausted': {
        plan.provider.breaker.recordNeutral();
        const zone = plan.provider.config.descriptor.dailyResetZone;
        const until =
          failure.retryAfterMs !== undefined
            ? now + failure.retryAfterMs
            : failure.quotaPeriod === 'month'
              ? nextQuotaMonthStart(now, zone)
              : nextQuotaDayStart(now, zone);
        await this.guard(observe);
        await this.guard(() => store.block(plan.keyId, 'quota', until, now));
        this.background('refund', refund);
        return;
      }
      case 'transient': {
        // An attempt that used up its whole timeout is a hang: open the breaker at once.
        const hang = elapsed >= plan.timeoutMs * 0.9 || committed;
        if (hang) plan.provider.stallSeenAt = now;
        plan.provider.breaker.recordFailure(now, hang);
        run.excluded.add(lane);
        return;
      }
      case 'context_too_long':
        plan.provider.breaker.recordNeutral();
        this.background('refund', refund);
        if (run.request.fit !== undefined && !run.shrunk.has(lane)) run.shrunk.add(lane);
        else run.excluded.add(lane);
        return;
      case 'bad_request':
        plan.provider.breaker.recordNeutral();
        this.background('refund', refund);
        run.excluded.add(lane);
        this.options.logger?.error(
          { provider: name, status: failure.status, err: failure.message },
          'provider refused the request as malformed: check its model and settings',
        );
        return;
      case 'content_filtered':
        plan.provider.breaker.recordNeutral();
        this.background('refund', refund);
        throw this.giveUp(run, 'content_filtered', `${name} refused to answer for safety reasons`);
    }
  }

  private giveUp(run: Run, kind: RouterErrorKind, summary: string, retryAfterMs?: number): RouterError {
    return new RouterError(kind, [...run.failures], retryAfterMs, summary);
  }

  private routeInfo(run: Run, plan: Plan, model: string): RouteInfo {
    return {
      provider: plan.provider.name,
      model,
      keyId: plan.keyId,
      maskedKey: plan.masked,
      failedAttempts: [...run.failures],
    };
  }

  private recordStats(
    plan: Plan,
    outcome: 'success' | ProviderError['kind'],
    now: number,
    usage: Usage | undefined,
    latencyMs = performance.now() - plan.startedAt,
  ): void {
    const record: { -readonly [K in keyof AttemptRecord]: AttemptRecord[K] } = {
      provider: plan.provider.name,
      keyId: plan.keyId,
      maskedKey: plan.masked,
      outcome,
      hedge: plan.hedge,
      latencyMs,
      fallback: plan.fallback,
      at: now,
    };
    if (usage?.inputTokens !== undefined) record.inputTokens = usage.inputTokens;
    if (usage?.outputTokens !== undefined) record.outputTokens = usage.outputTokens;
    if (plan.work.transcription) {
      record.transcription = true;
      record.audioSeconds = plan.work.audioSeconds;
    } else if (plan.work.media) {
      record.media = true;
    }
    for (const observer of this.observers) observer.attempt?.(record);
    const stats = this.options.statsStore;
    if (stats !== undefined) this.background('stats', () => stats.recordAttempt(record, quotaDay(now, 'UTC')));
  }

  /**
   * Store writes that must not delay the answer. A failure is not thrown: observers count every
   * one, and the log gets at most one line a minute per kind of write, with how many it stands for.
   */
  private background(what: string, task: () => Promise<void>): void {
    task().catch((error: unknown) => {
      for (const observer of this.observers) observer.backgroundWriteFailed?.(what);
      const now = this.clock.now();
      const seen = this.writeFailures.get(what);
      if (seen !== undefined && now - seen.loggedAt < WRITE_FAILURE_LOG_INTERVAL_MS) {
        seen.unlogged += 1;
        return;
      }
      const failures = (seen?.unlogged ?? 0) + 1;
      this.writeFailures.set(what, { loggedAt: now, unlogged: 0 });
      this.options.logger?.warn(
        { err: error, what, failures },
        `a background store write failed (${failures} since the last such line; at most one line a minute)`,
      );
    });
  }

  /** Store writes the next decision depends on; a failing store must not fail the request. */
  private async guard(task: () => Promise<void>): Promise<void> {
    try {
      await task();
    } catch (error) {
      this.options.logger?.warn({ err: error }, 'quota store write failed');
    }
  }
}

/** The adapter of a configured provider, with the router's timeouts as its defaults. */
export function createAdapter(
  provider: ProviderConfig,
  settings: Pick<RouterSettings, 'attemptTimeoutMs' | 'streamIdleTimeoutMs'>,
): ProviderAdapter {
  return provider.descriptor.create({
    baseUrl: provider.baseUrl,
    model: provider.model,
    timeoutMs: settings.attemptTimeoutMs,
    idleTimeoutMs: settings.streamIdleTimeoutMs,
  });
}

/** A stable, non-secret id for a key: the provider name and a short hash of the key. */
export function keyIdFor(provider: string, secret: string): string {
  return `${provider}:${createHash('sha256').update(secret).digest('hex').slice(0, 16)}`;
}

function isQuotaKind(kind: string): boolean {
  return kind === 'rate_limited' || kind === 'quota_exhausted' || kind === 'auth';
}

function sumDefined(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined ? undefined : a + b;
}

function asProviderError(error: unknown, provider: string): ProviderError {
  if (isProviderError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new ProviderError({ kind: 'transient', provider, message: `unexpected failure: ${message}`, cause: error });
}

/** The soonest reset of an exhausted window in a snapshot, relative. */
function resetFromSnapshot(snapshot: RateLimitSnapshot | undefined): number | undefined {
  if (snapshot === undefined) return undefined;
  const windows = [
    snapshot.requestsPerMinute,
    snapshot.tokensPerMinute,
    snapshot.requests,
    snapshot.requestsPerDay,
    snapshot.tokensPerDay,
  ];
  const exhausted = windows.filter(
    (window): window is RateLimitWindow => window?.remaining === 0 && window.resetAfterMs !== undefined,
  );
  if (exhausted.length === 0) return undefined;
  return Math.max(...exhausted.map((window) => window.resetAfterMs ?? 0));
}

/** Header snapshot (relative resets) → quota observation (absolute resets). */
function toObservation(snapshot: RateLimitSnapshot, now: number): QuotaObservation {
  // Plain assignments rather than conditional spreads: this runs on every answer.
  const convert = (window: RateLimitWindow | undefined): WindowObservation | undefined => {
    if (window === undefined) return undefined;
    const observed: { limit?: number; remaining?: number; resetAt?: number } = {};
    if (window.limit !== undefined) observed.limit = window.limit;
    if (window.remaining !== undefined) observed.remaining = window.remaining;
    if (window.resetAfterMs !== undefined) observed.resetAt = now + window.resetAfterMs;
    return observed;
  };
  return {
    requestsPerMinute: convert(snapshot.requestsPerMinute),
    requestsPerDay: convert(snapshot.requestsPerDay),
    tokensPerMinute: convert(snapshot.tokensPerMinute),
    tokensPerDay: convert(snapshot.tokensPerDay),
    requests: convert(snapshot.requests),
  };
}

function noop(): void {}

/**
 * The providers in the order a request asks for: its preferred ones first (in its order), then
 * the rest as ordered, then those it avoids. Without a preference, the order as it is.
 */
function preferred<T extends { readonly name: string }>(ordered: readonly T[], request: RouteRequest): readonly T[] {
  const prefer = request.prefer;
  const avoid = request.avoid;
  if ((prefer === undefined || prefer.length === 0) && (avoid === undefined || avoid.length === 0)) return ordered;
  const first: T[] = [];
  for (const preference of prefer ?? []) {
    for (const provider of ordered) {
      if (provider.name === preference.provider && !first.includes(provider)) first.push(provider);
    }
  }
  const last = ordered.filter((provider) => avoid?.includes(provider.name) === true && !first.includes(provider));
  const middle = ordered.filter((provider) => !first.includes(provider) && !last.includes(provider));
  return [...first, ...middle, ...last];
}

/**
 * Seconds of audio in a transcription request: what its model's token windows count (see
 * `RoleOffer.defaultLimits`); the length Telegram gave, else one second per KB.
 */
function audioSeconds(messages: readonly ChatMessage[]): number {
  let seconds = 0;
  for (const message of messages) {
    for (const part of message.media ?? []) {
      if (part.kind === 'audio') seconds += part.durationSeconds ?? part.data.byteLength / 1000;
    }
  }
  return Math.max(1, Math.ceil(seconds));
}

/** A transcription attempt, or a refusal when the adapter has none (a configuration error). */
function transcribeWith(adapter: ProviderAdapter, request: ChatRequest, apiKey: string): Promise<ChatResult> {
  if (adapter.transcribe === undefined) {
    return Promise.reject(
      new ProviderError({ kind: 'bad_request', provider: adapter.name, message: 'this adapter cannot transcribe' }),
    );
  }
  return adapter.transcribe(request, apiKey);
}

/**
 * The messages without any media part the model cannot take. A lane is chosen only when its model
 * takes every part, so this changes nothing on the way; it makes sure it never can.
 */
function onlyTaken(messages: readonly ChatMessage[], capabilities: ModelCapabilities): readonly ChatMessage[] {
  if (messages.every((message) => (message.media ?? []).every((part) => capabilities.inputs.includes(part.kind))))
    return messages;
  return messages.map((message) =>
    message.media === undefined
      ? message
      : { ...message, media: message.media.filter((part) => capabilities.inputs.includes(part.kind)) },
  );
}
