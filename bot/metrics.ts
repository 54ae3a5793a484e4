import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { AttemptRecord, HedgeOutcome, RouterObserver } from '../providers';
import type { PoolStats } from './services/pool-stats';

/** Where the metrics read the pool and storage from: plain data, no router object. */
export interface MetricsSources {
  /** The /stats figures (the metrics never ask for top users). */
  readonly poolStats: () => Promise<PoolStats>;
  /** Whether shared storage (Redis) answers; always true in memory mode. */
  readonly storageUp: () => boolean;
  readonly now: () => number;
  /** The durable intake's state, with Redis (bot/intake/): none in memory mode. */
  readonly intake?: () => IntakeStatus;
}

export interface IntakeStatus {
  /** Updates queued and not yet handled (undefined while it cannot be read). */
  readonly backlog: number | undefined;
  readonly backlogLimit: number;
  /** Whether this process is the one polling Telegram (polling mode). */
  readonly polling: boolean;
}

/**
 * Prometheus metrics (prom-client) and the operator endpoints: `/healthz` (the process is alive),
 * `/readyz` (Telegram reachable, storage up, at least one provider usable) and `/metrics`.
 * Keys appear only masked in labels.
 */
export class Metrics implements RouterObserver {
  readonly registry = new Registry();
  private readonly attempts: Counter<'provider' | 'key' | 'outcome'>;
  private readonly attemptDuration: Histogram<'provider' | 'outcome'>;
  private readonly fallbacks: Counter<'provider'>;
  private readonly transcriptions: Counter<'provider' | 'key'>;
  private readonly audioSeconds: Counter<'provider' | 'key'>;
  private readonly mediaRequests: Counter<'provider' | 'key'>;
  private readonly rateLimited: Counter<'limit'>;
  private readonly telegramErrors: Counter<'method' | 'code'>;
  private readonly updates: Counter<'type'>;
  private readonly updateDuration: Histogram;
  private readonly backgroundWriteFailures: Counter<'what'>;
  private readonly hedges: Counter<'provider' | 'result'>;
  private readonly intakeSetAside: Counter;
  private readonly intakeReclaimed: Counter;
  private lastTelegramSuccess = 0;

  constructor(private readonly sources: MetricsSources) {
    const registry = this.registry;
    collectDefaultMetrics({ register: registry, prefix: 'switchboard_' });
    this.attempts = new Counter({
      name: 'switchboard_provider_attempts_total',
      help: 'Provider attempts by provider, masked key and outcome (success or error kind)',
      labelNames: ['provider', 'key', 'outcome'],
      registers: [registry],
    });
    this.attemptDuration = new Histogram({
      name: 'switchboard_provider_attempt_duration_seconds',
      help: 'Duration of provider attempts',
      labelNames: ['provider', 'outcome'],
      buckets: [0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60],
      registers: [registry],
    });
    this.fallbacks = new Counter({
      name: 'switchboard_fallback_answers_total',
      help: 'Answers that came after another provider or key had failed the request',
      labelNames: ['provider'],
      registers: [registry],
    });
    this.transcriptions = new Counter({
      name: 'switchboard_transcriptions_total',
      help: 'Transcriptions (speech to text) answered, by provider and masked key',
      labelNames: ['provider', 'key'],
      registers: [registry],
    });
    this.audioSeconds = new Counter({
      name: 'switchboard_transcribed_audio_seconds_total',
      help: 'Seconds of audio in the transcriptions answered (what speech-to-text limits count), by provider and masked key',
      labelNames: ['provider', 'key'],
      registers: [registry],
    });
    this.mediaRequests = new Counter({
      name: 'switchboard_media_requests_total',
      help: 'Chat answers to requests with media (images, audio, PDFs), by provider and masked key',
      labelNames: ['provider', 'key'],
      registers: [registry],
    });
    this.rateLimited = new Counter({
      name: 'switchboard_users_rate_limited_total',
      help: 'Users told they are over a per-user limit (once per window)',
      labelNames: ['limit'],
      registers: [registry],
    });
    this.telegramErrors = new Counter({
      name: 'switchboard_telegram_api_errors_total',
      help: 'Failed Telegram Bot API calls by method and error code (or "network")',
      labelNames: ['method', 'code'],
      registers: [registry],
    });
    this.updates = new Counter({
      name: 'switchboard_updates_total',
      help: 'Updates handled, by type',
      labelNames: ['type'],
      registers: [registry],
    });
    this.hedges = new Counter({
      name: 'switchboard_hedges_total',
      help: 'Hedges (backup attempts started while another attempt of the request stalled) by provider and result: won (answered first) or lost',
      labelNames: ['provider', 'result'],
      registers: [registry],
    });
    this.backgroundWriteFailures = new Counter({
      name: 'switchboard_background_write_failures_total',
      help: 'Store writes behind an answer that failed (quota settle, refund, stats), by kind',
      labelNames: ['what'],
      registers: [registry],
    });
    this.updateDuration = new Histogram({
      name: 'switchboard_update_duration_seconds',
      help: 'Time from receiving an update to finishing it',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
      registers: [registry],
    });

    // The pool gauges are collected in one scrape: read the pool once for them, not once each.
    let scrape: { at: number; stats: Promise<PoolStats> } | undefined;
    const pool = (): Promise<PoolStats> => {
      const at = this.sources.now();
      if (scrape === undefined || at - scrape.at > 1000) scrape = { at, stats: this.sources.poolStats() };
      return scrape.stats;
    };
    new Gauge({
      name: 'switchboard_key_requests_left_today',
      help: 'Requests a key has left today (estimated from limits, counts and headers); -1 when unknown',
      labelNames: ['provider', 'key'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const provider of (await pool()).providers) {
          for (const key of provider.keys)
            this.set({ provider: provider.name, key: key.maskedKey }, key.leftToday ?? -1);
        }
      },
    });
    new Gauge({
      name: 'switchboard_pool_requests_left_today',
      help: 'Requests left today across all keys with a known daily limit',
      registers: [registry],
      async collect() {
        this.set((await pool()).leftToday);
      },
    });
    new Gauge({
      name: 'switchboard_provider_circuit_open',
      help: '1 while a provider is switched off by its circuit breaker',
      labelNames: ['provider'],
      registers: [registry],
      async collect() {
        for (const provider of (await pool()).providers) {
          this.set({ provider: provider.name }, provider.breaker === 'open' ? 1 : 0);
        }
      },
    });
    this.intakeSetAside = new Counter({
      name: 'switchboard_intake_set_aside_total',
      help: 'Queued updates set aside in the dead letters after failing every try (their users are told once)',
      registers: [registry],
    });
    this.intakeReclaimed = new Counter({
      name: 'switchboard_intake_reclaimed_total',
      help: 'Queued updates this process took over from a process that stopped handling them',
      registers: [registry],
    });
    const intake = this.sources.intake;
    if (intake !== undefined) {
      new Gauge({
        name: 'switchboard_intake_backlog',
        help: 'Updates in the shared intake queue not yet handled (-1 while unreadable)',
        registers: [registry],
        collect() {
          this.set(intake().backlog ?? -1);
        },
      });
      new Gauge({
        name: 'switchboard_intake_backlog_limit',
        help: 'Backlog above which intake slows down (INTAKE_BACKLOG_LIMIT)',
        registers: [registry],
        collect() {
          this.set(intake().backlogLimit);
        },
      });
      new Gauge({
        name: 'switchboard_intake_poller',
        help: '1 while this process is the one polling Telegram',
        registers: [registry],
        collect() {
          this.set(intake().polling ? 1 : 0);
        },
      });
    }
    const storageUp = this.sources.storageUp;
    new Gauge({
      name: 'switchboard_storage_up',
      help: '1 when shared storage (Redis) answers, or in memory mode',
      registers: [registry],
      collect() {
        this.set(storageUp() ? 1 : 0);
      },
    });
  }

  /** Every provider attempt (the router calls it as an observer). */
  readonly attempt = (record: AttemptRecord): void => {
    this.attempts.inc({ provider: record.provider, key: record.maskedKey, outcome: record.outcome });
    this.attemptDuration.observe(
      { provider: record.provider, outcome: record.outcome === 'success' ? 'success' : 'failure' },
      record.latencyMs / 1000,
    );
    if (record.outcome !== 'success') return;
    if (record.fallback) this.fallbacks.inc({ provider: record.provider });
    const labels = { provider: record.provider, key: record.maskedKey };
    if (record.transcription === true) {
      this.transcriptions.inc(labels);
      this.audioSeconds.inc(labels, Math.ceil(record.audioSeconds ?? 0));
    } else if (record.media === true) {
      this.mediaRequests.inc(labels);
    }
  };

  readonly hedge = (outcome: HedgeOutcome): void => {
    this.hedges.inc({ provider: outcome.provider, result: outcome.won ? 'won' : 'lost' });
  };

  readonly backgroundWriteFailed = (what: string): void => {
    this.backgroundWriteFailures.inc({ what });
  };

  recordSetAside(): void {
    this.intakeSetAside.inc();
  }

  recordReclaimed(count: number): void {
    this.intakeReclaimed.inc(count);
  }

  recordRateLimited(limit: 'minute' | 'day'): void {
    this.rateLimited.inc({ limit });
  }

  recordTelegramCall(method: string, outcome: { ok: true } | { ok: false; code: number | 'network' }): void {
    if (outcome.ok) this.lastTelegramSuccess = this.sources.now();
    else this.telegramErrors.inc({ method, code: String(outcome.code) });
  }

  recordUpdate(type: string, seconds: number): void {
    this.updates.inc({ type });
    this.updateDuration.observe(seconds);
  }

  /** When a Telegram call last succeeded (0: never). */
  get telegramLastSuccessAt(): number {
    return this.lastTelegramSuccess;
  }
}

export interface ReadinessCheck {
  readonly ready: boolean;
  readonly checks: {
    readonly telegram: boolean;
    readonly storage: boolean;
    readonly providers: boolean;
    /** With Redis: the intake backlog is under its limit. */
    readonly intake?: boolean;
  };
}

/** Whether the bot can serve: Telegram answered recently (or answers now), storage is up, a provider is usable. */
export async function checkReadiness(
  metrics: Metrics,
  sources: MetricsSources & { readonly pingTelegram: () => Promise<boolean> },
): Promise<ReadinessCheck> {
  const telegram =
    sources.now() - metrics.telegramLastSuccessAt < 90_000 ? true : await sources.pingTelegram().catch(() => false);
  const storage = sources.storageUp();
  const pool = await sources.poolStats().catch(() => undefined);
  const providers =
    pool?.providers.some(
      (provider) => provider.breaker !== 'open' && provider.keys.some((key) => key.blocked === undefined),
    ) ?? false;
  const status = sources.intake?.();
  if (status === undefined)
    return { ready: telegram && storage && providers, checks: { telegram, storage, providers } };
  const intake = status.backlog === undefined || status.backlog < status.backlogLimit;
  return { ready: telegram && storage && providers && intake, checks: { telegram, storage, providers, intake } };
}

/** Handles the operator endpoints; returns false for any other request. */
export function createOpsHandler(
  metrics: Metrics,
  readiness: () => Promise<ReadinessCheck>,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    if (req.method !== 'GET') return false;
    const path = new URL(req.url ?? '/', 'http://ops').pathname;
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return true;
    }
    if (path === '/readyz') {
      readiness().then(
        (check) =>
          res
            .writeHead(check.ready ? 200 : 503, { 'content-type': 'application/json' })
            .end(JSON.stringify({ status: check.ready ? 'ready' : 'not ready', ...check.checks })),
        () => res.writeHead(503).end('{"status":"not ready"}'),
      );
      return true;
    }
    if (path === '/metrics') {
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        (error: unknown) => res.writeHead(500).end(String(error)),
      );
      return true;
    }
    return false;
  };
}
