import { createHash, randomUUID } from 'node:crypto';
import type { AcquireResult, AttemptRecord, KeyBlock, QuotaCandidate, QuotaObservation, QuotaStore, StatsStore, WindowObservation } from '../ports';
import { maskSecret } from '../shared/secrets';
import {
  type ChatMessage,
  type ChatRequest,
  type ChatResult,
  type DailyResetZone,
  isProviderError,
  type KeyLimits,
  ProviderError,
  type ProviderAdapter,
  type RateLimitSnapshot,
  type RateLimitWindow,
  type StreamEvent,
  type Usage,
} from '../types';
import { CircuitBreaker } from './breaker';
import { type Clock, systemClock } from './clock';
import { type FailedAttempt, RouterError, type RouterErrorKind } from './errors';
import { HealthWindow } from './health';
import { orderProviders, type RoutingMode } from './policy';
import { nextQuotaDayStart, quotaDay } from './quota-day';
import { estimateInputTokens } from './token-estimate';

/** One provider as the router sees it: an adapter, its keys and what is known of their limits. */
export interface RouterProviderInput {
  readonly name: string;
  readonly adapter: ProviderAdapter;
  readonly keys: readonly string[];
  readonly limits: KeyLimits;
  readonly contextWindowTokens: number;
  readonly dailyResetZone: DailyResetZone;
}

export interface RouterLogger {
  debug(details: object, message: string): void;
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

export interface RouterOptions {
  readonly providers: readonly RouterProviderInput[];
  readonly routing: RoutingMode;
  readonly requestDeadlineMs: number;
  readonly attemptTimeoutMs: number;
  readonly firstTokenTimeoutMs: number;
  readonly streamIdleTimeoutMs: number;
  readonly breakerFailureThreshold: number;
  readonly breakerOpenMs: number;
  /** How long a key that failed authentication stays out before it is tried again. */
  readonly authRecheckMs: number;
  /** Longest the router waits for a cooling key when nothing else is free (within the deadline). */
  readonly maxWaitMs?: number;
  readonly quotaStore: QuotaStore;
  readonly statsStore?: StatsStore;
  /** Sees every attempt as it ends (metrics); must not throw. */
  readonly onAttempt?: (record: AttemptRecord) => void;
  readonly clock?: Clock;
  readonly random?: () => number;
  readonly logger?: RouterLogger;
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

export type RoutedStreamEvent =
  | ({ readonly type: 'start' } & RouteInfo)
  | StreamEvent;

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
const DEFAULT_MAX_WAIT_MS = 10_000;
const MAX_ATTEMPTS_CAP = 30;

interface ProviderRuntime {
  readonly input: RouterProviderInput;
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
  /** Providers not to try again for this request (transient failure, bad request, no fit). */
  readonly excluded: Set<string>;
  /** Providers asked for a shorter conversation after a context-length error. */
  readonly shrunk: Set<string>;
  attempts: number;
  waitedMs: number;
}

/** One attempt the router decided to make. */
interface Plan {
  readonly provider: ProviderRuntime;
  readonly keyId: string;
  readonly secret: string;
  readonly masked: string;
  readonly request: ChatRequest;
  readonly reservationId: string;
  readonly reservedTokens: number;
  readonly day: string;
  readonly fallback: boolean;
  readonly startedAt: number;
  readonly timeoutMs: number;
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
  private statsFailureLogged = false;

  constructor(private readonly options: RouterOptions) {
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.providers = options.providers
      .filter((provider) => provider.keys.length > 0)
      .map((input) => {
        const keys = input.keys.map((secret) => ({ keyId: keyIdFor(input.name, secret), secret, masked: maskSecret(secret) }));
        return {
          input,
          keys,
          candidates: keys.map((key) => ({ keyId: key.keyId, limits: input.limits })),
          breaker: new CircuitBreaker({ failureThreshold: options.breakerFailureThreshold, openMs: options.breakerOpenMs }),
          health: new HealthWindow(),
        };
      });
    const keyCount = this.providers.reduce((sum, provider) => sum + provider.keys.length, 0);
    this.maxAttempts = Math.min(MAX_ATTEMPTS_CAP, 2 * (this.providers.length + keyCount));
  }

  /** Provider names in configured order. */
  get providerNames(): string[] {
    return this.providers.map((provider) => provider.input.name);
  }

  /** One answer from the pool, or a `RouterError` saying what was tried and why it failed. */
  async complete(request: RouteRequest): Promise<RoutedResult> {
    const run = this.begin(request, false);
    while (true) {
      const plan = await this.nextPlan(run);
      try {
        const result = await plan.provider.input.adapter.complete(plan.request, plan.secret);
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
          provider: plan.provider.input.name,
          keyId: plan.keyId,
          maskedKey: plan.masked,
          failedAttempts: [...run.failures],
        };
      } catch (error) {
        await this.fail(run, plan, error);
      }
    }
  }

  /**
   * A streamed answer. It falls over to another provider only until the first event has arrived;
   * after that a failure ends the stream with a `RouterError` of kind `interrupted`, so the caller
   * never gets two models' text glued together. The first event is `start`, naming who answers.
   */
  async *stream(request: RouteRequest): AsyncGenerator<RoutedStreamEvent> {
    const run = this.begin(request, true);
    while (true) {
      const plan = await this.nextPlan(run);
      const iterator = plan.provider.input.adapter.stream(plan.request, plan.secret)[Symbol.asyncIterator]();
      let first: IteratorResult<StreamEvent>;
      try {
        first = await iterator.next();
      } catch (error) {
        await this.fail(run, plan, error);
        continue;
      }
      yield { type: 'start', ...this.routeInfo(run, plan, plan.request.model ?? plan.provider.input.adapter.model) };
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
          `the answer from ${plan.provider.input.name} broke off after ${delivered} characters`,
        );
      } finally {
        await iterator.return?.();
      }
    }
  }

  // ─── Planning ────────────────────────────────────────────────────────────────────────────────

  private begin(request: RouteRequest, streaming: boolean): Run {
    const started = this.clock.now();
    return {
      streaming,
      started,
      deadlineAt: started + (request.deadlineMs ?? this.options.requestDeadlineMs),
      request,
      failures: [],
      excluded: new Set(),
      shrunk: new Set(),
      attempts: 0,
      waitedMs: 0,
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
    if (run.request.signal?.aborted) return { type: 'give-up', error: this.giveUp(run, 'cancelled', 'the request was cancelled') };
    if (this.providers.length === 0) {
      return { type: 'give-up', error: this.giveUp(run, 'no_providers', 'no provider has an API key configured') };
    }
    if (now >= run.deadlineAt) return { type: 'give-up', error: this.giveUp(run, 'deadline', 'the request ran out of time') };
    if (run.attempts >= this.maxAttempts) {
      return { type: 'give-up', error: this.giveUp(run, 'unavailable', `gave up after ${run.attempts} attempts`) };
    }

    const blocks: KeyBlock[] = [];
    let breakersOpen = 0;
    for (const provider of this.orderedProviders(now)) {
      if (run.excluded.has(provider.input.name)) continue;
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

  private orderedProviders(now: number): readonly ProviderRuntime[] {
    // Priority order ignores health; summarising it sorts every provider's recent latencies.
    if (this.options.routing === 'priority') return this.providers;
    const byName = new Map(this.providers.map((provider) => [provider.input.name, provider]));
    const candidates = this.providers.map((provider) => ({
      name: provider.input.name,
      health: provider.health.summary(now),
    }));
    return orderProviders(candidates, this.options.routing, this.random).map((candidate) => byName.get(candidate.name)!);
  }

  /** Fits the conversation to the provider and reserves a key for it, or records why none is free. */
  private async tryReserve(run: Run, provider: ProviderRuntime, now: number, blocks: KeyBlock[]): Promise<Plan | undefined> {
    const { input } = provider;
    const outputAllowance = run.request.maxOutputTokens ?? DEFAULT_OUTPUT_ALLOWANCE;
    const messages = this.fitMessages(run, provider, outputAllowance);
    if (messages === undefined) return undefined;
    const reservedTokens = estimateInputTokens(messages) + outputAllowance;
    const day = quotaDay(now, input.dailyResetZone);
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
      this.options.logger?.error({ provider: input.name, err: error }, 'quota store failed; provider skipped');
      return undefined;
    }
    if (!acquired.ok) {
      for (const block of acquired.blocks) {
        blocks.push(block.until === undefined && block.reason !== 'too_large' ? { ...block, until: nextQuotaDayStart(now, input.dailyResetZone) } : block);
      }
      if (acquired.blocks.every((block) => block.reason === 'too_large')) run.excluded.add(input.name);
      return undefined;
    }
    const key = provider.keys.find((candidate) => candidate.keyId === acquired.keyId)!;
    const remaining = run.deadlineAt - now;
    const limit = run.streaming ? this.options.firstTokenTimeoutMs : this.options.attemptTimeoutMs;
    const timeoutMs = Math.max(1, Math.min(limit, remaining));
    run.attempts += 1;
    return {
      provider,
      keyId: key.keyId,
      secret: key.secret,
      masked: key.masked,
      reservationId,
      reservedTokens,
      day,
      fallback: run.failures.length > 0,
      startedAt: performance.now(),
      timeoutMs,
      request: {
        messages,
        maxOutputTokens: run.request.maxOutputTokens,
        temperature: run.request.temperature,
        json: run.request.json,
        signal: run.request.signal,
        timeoutMs,
        idleTimeoutMs: this.options.streamIdleTimeoutMs,
      },
    };
  }

  /** The conversation fitted to the provider's token budget, or `undefined` when it cannot fit. */
  private fitMessages(run: Run, provider: ProviderRuntime, outputAllowance: number): readonly ChatMessage[] | undefined {
    const { input } = provider;
    if (run.request.fit === undefined) return run.request.messages;
    const window = Math.min(input.contextWindowTokens, input.limits.tokensPerMinute ?? Number.POSITIVE_INFINITY);
    const shrink = run.shrunk.has(input.name) ? 0.5 : 1;
    const budget = Math.floor((window - outputAllowance - BUDGET_MARGIN_TOKENS) * shrink);
    if (budget <= 0) {
      run.excluded.add(input.name);
      return undefined;
    }
    return run.request.fit(budget);
  }

  /** Nothing could be attempted now: wait for the earliest key if it is soon, else give up. */
  private noProviderFree(run: Run, now: number, blocks: readonly KeyBlock[], breakersOpen: number): Decision {
    const usable = blocks.filter((block) => block.reason !== 'bad' && block.reason !== 'too_large');
    const earliest = Math.min(...usable.map((block) => block.until ?? Number.POSITIVE_INFINITY));
    const maxWait = this.options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
    if (Number.isFinite(earliest)) {
      const waitMs = Math.max(1, earliest - now);
      if (earliest < run.deadlineAt && run.waitedMs + waitMs <= maxWait) return { type: 'wait', ms: waitMs };
    }
    const retryAfterMs = Number.isFinite(earliest) ? Math.max(0, earliest - now) : undefined;
    const onlyTooLong = run.failures.length > 0 && run.failures.every((failure) => failure.kind === 'context_too_long');
    let kind: RouterErrorKind;
    if (onlyTooLong || (blocks.length > 0 && blocks.every((block) => block.reason === 'too_large'))) kind = 'context_too_long';
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
    const { input } = plan.provider;
    plan.provider.breaker.recordSuccess();
    plan.provider.health.record({ at: now, ok: true, latencyMs: providerLatencyMs, timeToFirstTokenMs });
    const actual = usage.totalTokens ?? sumDefined(usage.inputTokens, usage.outputTokens);
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
        { provider: input.name, key: plan.masked, after: run.failures.map((failure) => `${failure.provider}:${failure.kind}`) },
        'answered after fallback',
      );
    }
  }

  /** Reacts to a failed attempt according to its class; throws when the request must stop. */
  private async fail(run: Run, plan: Plan, error: unknown, committed = false): Promise<void> {
    const now = this.clock.now();
    const { input } = plan.provider;
    const failure = asProviderError(error, input.name);
    const elapsed = performance.now() - plan.startedAt;
    run.failures.push({
      provider: input.name,
      maskedKey: plan.masked,
      kind: failure.kind,
      status: failure.status,
      message: failure.message,
    });
    this.recordStats(plan, failure.kind, now, undefined, elapsed);
    plan.provider.health.record({ at: now, ok: failure.kind !== 'transient', latencyMs: elapsed, timeToFirstTokenMs: undefined });
    this.options.logger?.warn(
      { provider: input.name, key: plan.masked, kind: failure.kind, status: failure.status, err: failure.message },
      'provider attempt failed',
    );

    const store = this.options.quotaStore;
    const refund = (): Promise<void> =>
      store.settle({
        keyId: plan.keyId,
        reservationId: plan.reservationId,
        reservedTokens: plan.reservedTokens,
        actualTokens: 0,
        now,
        day: plan.day,
      });
    const observe = async (): Promise<void> => {
      if (failure.rateLimits !== undefined) await store.observe(plan.keyId, toObservation(failure.rateLimits, now), now, plan.day);
    };

    if (run.request.signal?.aborted) throw this.giveUp(run, 'cancelled', 'the request was cancelled');

    switch (failure.kind) {
      case 'auth':
        plan.provider.breaker.recordNeutral();
        await this.guard(() => store.block(plan.keyId, 'bad', now + this.options.authRecheckMs, now));
        this.background('refund', refund);
        this.options.logger?.error({ provider: input.name, key: plan.masked }, 'key rejected by provider; set aside');
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
        const until =
          failure.retryAfterMs !== undefined ? now + failure.retryAfterMs : nextQuotaDayStart(now, input.dailyResetZone);
        await this.guard(observe);
        await this.guard(() => store.block(plan.keyId, 'quota', until, now));
        this.background('refund', refund);
        return;
      }
      case 'transient': {
        // An attempt that used up its whole timeout is a hang: open the breaker at once.
        const hang = elapsed >= plan.timeoutMs * 0.9 || committed;
        plan.provider.breaker.recordFailure(now, hang);
        run.excluded.add(input.name);
        return;
      }
      case 'context_too_long':
        plan.provider.breaker.recordNeutral();
        this.background('refund', refund);
        if (run.request.fit !== undefined && !run.shrunk.has(input.name)) run.shrunk.add(input.name);
        else run.excluded.add(input.name);
        return;
      case 'bad_request':
        plan.provider.breaker.recordNeutral();
        this.background('refund', refund);
        run.excluded.add(input.name);
        this.options.logger?.error(
          { provider: input.name, status: failure.status, err: failure.message },
          'provider refused the request as malformed: check its model and settings',
        );
        return;
      case 'content_filtered':
        plan.provider.breaker.recordNeutral();
        this.background('refund', refund);
        throw this.giveUp(run, 'content_filtered', `${input.name} refused to answer for safety reasons`);
    }
  }

  private giveUp(run: Run, kind: RouterErrorKind, summary: string, retryAfterMs?: number): RouterError {
    return new RouterError(kind, [...run.failures], retryAfterMs, summary);
  }

  private routeInfo(run: Run, plan: Plan, model: string): RouteInfo {
    return {
      provider: plan.provider.input.name,
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
      provider: plan.provider.input.name,
      keyId: plan.keyId,
      outcome,
      latencyMs,
      fallback: plan.fallback,
      at: now,
    };
    if (usage?.inputTokens !== undefined) record.inputTokens = usage.inputTokens;
    if (usage?.outputTokens !== undefined) record.outputTokens = usage.outputTokens;
    this.options.onAttempt?.(record);
    const stats = this.options.statsStore;
    if (stats !== undefined) this.background('stats', () => stats.recordAttempt(record, quotaDay(now, 'UTC')));
  }

  /** Store writes that must not delay the answer; failures are logged once, not thrown. */
  private background(what: string, task: () => Promise<void>): void {
    task().catch((error: unknown) => {
      if (this.statsFailureLogged) return;
      this.statsFailureLogged = true;
      this.options.logger?.warn({ err: error, what }, 'a background store write failed (logged once)');
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

  /** Internal view for stats: providers with their keys (masked) and live breaker/health state. */
  describeProviders(): readonly {
    readonly input: RouterProviderInput;
    readonly keys: readonly { readonly keyId: string; readonly masked: string }[];
    readonly breaker: CircuitBreaker;
    readonly health: HealthWindow;
  }[] {
    return this.providers.map((provider) => ({
      input: provider.input,
      keys: provider.keys.map(({ keyId, masked }) => ({ keyId, masked })),
      breaker: provider.breaker,
      health: provider.health,
    }));
  }

  get now(): number {
    return this.clock.now();
  }
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
  const windows = [snapshot.requestsPerMinute, snapshot.tokensPerMinute, snapshot.requests, snapshot.requestsPerDay, snapshot.tokensPerDay];
  const exhausted = windows.filter((window): window is RateLimitWindow => window?.remaining === 0 && window.resetAfterMs !== undefined);
  if (exhausted.length === 0) return undefined;
  return Math.max(...exhausted.map((window) => window.resetAfterMs ?? 0));
}

/** Header snapshot (relative resets) → quota observation (absolute resets). */
export function toObservation(snapshot: RateLimitSnapshot, now: number): QuotaObservation {
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
