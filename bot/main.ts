/**
 * The entry point, and the only reader of `process.env`. Builds everything from the environment
 * (and `.env`), then runs long polling through @grammyjs/runner — or, when WEBHOOK_URL is set, a
 * webhook server — until SIGTERM/SIGINT, when it stops taking updates, finishes those in flight
 * (up to 10 s), closes storage and exits 0.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { hostname } from 'node:os';
import type { Bot } from 'grammy';
import type { IntakeStores } from '../storage';
import { type Config, configSecrets, createConfig, describeConfig, isConfigError, loadDotEnv } from './config';
import type { BotContext } from './context';
import { createBot, describeTelegramError, registerCommands, tellSetAside } from './create-bot';
import { createLogger, type Logger } from './logger';
import { createServices, type Services } from './services/create-services';
import { checkReadiness, createOpsHandler, Metrics, type MetricsSources } from './metrics';
import { BacklogMonitor } from './intake/backlog';
import { appendUpdates, startLeasedPolling } from './intake/leased-polling';
import { startPolling } from './intake/polling';
import { HandledUpdates } from './intake/handled-updates';
import { startQueueWorker } from './intake/queue-worker';
import { UpdateHooks } from './intake/update-hooks';
import { startWebhookServer, type WebhookServer } from './intake/webhook';
import { poolCapabilities } from '../providers';
import { startHeartbeat } from './dashboard/heartbeat';
import { createDashboardHandler, projectVersion } from './dashboard/server';
import { type ProcessInfo, processInfoJson } from './dashboard/snapshot';
import { Timeline } from './dashboard/timeline';

type OpsHandler = ReturnType<typeof createOpsHandler>;

const SHUTDOWN_GRACE_MS = 10_000;
/**
 * Beyond REQUEST_DEADLINE_MS, how long an update waits for an earlier one of its chat (handled by
 * another process) before it goes on without it: time to send the answer, flood waits included.
 * Only a process that died mid-update makes anyone wait this long.
 */
const ORDER_WAIT_MARGIN_MS = 30_000;
/** The update types the bot handles; others are never fetched. */
const ALLOWED_UPDATES = ['message', 'edited_message', 'channel_post', 'my_chat_member', 'callback_query'] as const;

async function main(): Promise<void> {
  loadDotEnv();
  let config: Config;
  try {
    config = createConfig(process.env);
  } catch (error) {
    if (!isConfigError(error)) throw error;
    process.stderr.write(`Switchboard cannot start: the configuration has problems.\n${error.message}\n`);
    process.exit(2);
  }
  const logger = createLogger({ level: config.logLevel, secrets: configSecrets(config) });
  logger.info({ config: describeConfig(config) }, 'starting');
  for (const warning of config.providers.warnings) logger.warn(warning);
  logPoolCapabilities(config, logger);

  const services = await createServices(config, logger);
  // Unique per process start: a restarted process is a new consumer of the intake queue (its old
  // entries are taken over like those of any process that died) and a new line on the dashboard.
  const processId = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const intake =
    services.stores.intake === undefined ? undefined : durableIntake(services.stores.intake, config, logger, processId);
  const sources: MetricsSources = {
    ...metricsSources(services),
    ...(intake === undefined ? {} : { intake: () => intake.status() }),
  };
  const metrics = new Metrics(sources);
  services.router.observe(metrics);
  const bot = createBot(config, {
    services,
    logger,
    metrics,
    ...(intake === undefined ? {} : { intakeHooks: intake.hooks }),
  });
  const opsEndpoints = createOpsHandler(metrics, () =>
    checkReadiness(metrics, { ...sources, pingTelegram: pingTelegram(bot) }),
  );
  const dashboard = startDashboard(config, services, sources, processId, logger);
  const ops: OpsHandler =
    dashboard === undefined ? opsEndpoints : (req, res) => opsEndpoints(req, res) || dashboard.handler(req, res);
  await initialize(bot, logger);

  // Stopped in this order: intake first, then the handling of what was taken in, then the ops port.
  const stops: (() => Promise<void>)[] = [];
  if (intake !== undefined) {
    await intake.backlog.start();
    const worker = startQueueWorker(bot, {
      queue: intake.stores.queue,
      consumer: intake.name,
      hooks: intake.hooks,
      handled: intake.handled,
      logger,
      orderWaitMs: config.providers.requestDeadlineMs + ORDER_WAIT_MARGIN_MS,
      reclaimIdleMs: config.intakeReclaimIdleMs,
      concurrency: config.intakeConcurrency,
      tellSetAside: (update) => tellSetAside(bot, update),
      onSetAside: () => metrics.recordSetAside(),
      onReclaimed: (count) => metrics.recordReclaimed(count),
    });
    stops.push(async () => {
      await worker.stop(SHUTDOWN_GRACE_MS - 500);
      intake.backlog.stop();
    });
  }
  if (config.metricsPort !== undefined) stops.push(await startOpsServer(config.metricsPort, ops, logger));
  if (dashboard !== undefined) stops.push(dashboard.stop);
  stops.unshift(
    config.webhook === undefined
      ? await startLongPolling(bot, logger, intake)
      : await startWebhook(bot, config, logger, ops, intake),
  );
  installShutdown(
    async () => {
      for (const stop of stops) await stop();
    },
    services,
    logger,
  );
}

function pingTelegram(bot: Bot<BotContext>): () => Promise<boolean> {
  return async () => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('getMe timed out')), 3000);
    });
    try {
      await Promise.race([bot.api.getMe(), timeout]);
      return true;
    } finally {
      clearTimeout(timer);
    }
  };
}

/** The durable intake of a process on Redis: its name in the queue, the hooks into the bot, the backlog watch. */
interface DurableIntake {
  readonly stores: IntakeStores;
  readonly name: string;
  readonly hooks: UpdateHooks;
  /** What this process handled lately, from the queue or itself while Redis was away. */
  readonly handled: HandledUpdates;
  readonly backlog: BacklogMonitor;
  polling: boolean;
  status(): { backlog: number | undefined; backlogLimit: number; polling: boolean };
}

function durableIntake(stores: IntakeStores, config: Config, logger: Logger, name: string): DurableIntake {
  const backlog = new BacklogMonitor(stores.queue, config.intakeBacklogLimit, logger);
  const intake: DurableIntake = {
    stores,
    name,
    hooks: new UpdateHooks(),
    handled: new HandledUpdates(),
    backlog,
    polling: false,
    status: () => ({ backlog: backlog.backlog, backlogLimit: backlog.limit, polling: intake.polling }),
  };
  return intake;
}

function metricsSources(services: Services): MetricsSources {
  return { poolStats: () => services.poolStats(0), storageUp: () => services.stores.isHealthy(), now: Date.now };
}

/**
 * The admins' dashboard, when DASHBOARD_TOKEN is set: its per-minute timeline observes the router,
 * and this process beats in the storage's process registry so that the page lists every process.
 */
function startDashboard(
  config: Config,
  services: Services,
  sources: MetricsSources,
  processId: string,
  logger: Logger,
): { handler: OpsHandler; stop: () => Promise<void> } | undefined {
  if (config.dashboardToken === undefined) return undefined;
  const timeline = new Timeline(Date.now);
  services.router.observe(timeline);
  const info: ProcessInfo = {
    id: processId,
    version: projectVersion(),
    startedAt: Date.now(),
    mode: config.webhook === undefined ? 'polling' : 'webhook',
    storage: services.stores.mode,
    node: process.version,
  };
  const registry = services.stores.processes;
  const handler = createDashboardHandler(config.dashboardToken, {
    process: info,
    now: Date.now,
    poolStats: () => services.poolStats(10),
    timeline,
    ...(sources.intake === undefined ? {} : { intake: sources.intake }),
    processes: () => registry.list(Date.now()),
    storageUp: sources.storageUp,
    memoryBytes: () => process.memoryUsage.rss(),
  });
  const stopHeartbeat = startHeartbeat(registry, processId, processInfoJson(info), logger);
  if (config.metricsPort === undefined && config.webhook === undefined)
    logger.warn('DASHBOARD_TOKEN is set but neither METRICS_PORT nor webhook mode serves the dashboard');
  else logger.info({ path: '/dashboard' }, 'dashboard enabled');
  return { handler, stop: stopHeartbeat };
}

/** /healthz, /readyz and /metrics on their own port (METRICS_PORT). */
async function startOpsServer(port: number, handler: OpsHandler, logger: Logger): Promise<() => Promise<void>> {
  const server = createServer((req, res) => {
    if (!handler(req, res)) res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => resolve());
  });
  logger.info({ port }, 'health and metrics endpoints listening');
  return () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
}

/** getMe (retried while Telegram is unreachable) and the command menu. */
async function initialize(bot: Bot<BotContext>, logger: Logger): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await bot.init();
      break;
    } catch (error) {
      if (attempt >= 5) throw error;
      logger.warn({ err: describeTelegramError(error), attempt }, 'Telegram is not reachable yet; retrying');
      await new Promise((resolve) => setTimeout(resolve, 1000 * attempt));
    }
  }
  logger.info({ username: bot.botInfo.username }, 'connected to Telegram');
  await registerCommands(bot).catch((error: unknown) =>
    logger.warn({ err: describeTelegramError(error) }, 'could not register the command menu'),
  );
}

async function startLongPolling(
  bot: Bot<BotContext>,
  logger: Logger,
  intake: DurableIntake | undefined,
): Promise<() => Promise<void>> {
  await bot.api.deleteWebhook();
  if (intake === undefined) {
    // Without Redis a crash loses history anyway: updates are confirmed to Telegram as soon as
    // they are in this process's queue, so that a long answer never holds back other chats.
    const polling = startPolling(bot, { allowedUpdates: [...ALLOWED_UPDATES], logger });
    logger.info({ intake: 'in-process' }, 'long polling started');
    return () => polling.stop(SHUTDOWN_GRACE_MS - 500);
  }
  // With Redis, one process at a time polls and queues; every process handles from the queue.
  const polling = startLeasedPolling(bot, {
    queue: intake.stores.queue,
    lease: intake.stores.pollerLease,
    holder: intake.name,
    allowedUpdates: [...ALLOWED_UPDATES],
    logger,
    backlogFull: () => intake.backlog.full,
    handled: intake.handled,
    onPollerChange: (polls) => {
      intake.polling = polls;
    },
  });
  logger.info({ intake: 'redis-queue' }, 'long polling started');
  return () => polling.stop(SHUTDOWN_GRACE_MS - 500);
}

async function startWebhook(
  bot: Bot<BotContext>,
  config: Config,
  logger: Logger,
  ops: OpsHandler,
  intake: DurableIntake | undefined,
): Promise<() => Promise<void>> {
  const webhook = config.webhook;
  if (webhook === undefined) throw new Error('webhook mode without webhook settings');
  const server: WebhookServer = await startWebhookServer(bot, {
    port: webhook.port,
    path: webhook.path,
    secret: webhook.secret,
    logger,
    otherRequests: ops,
    ...(intake === undefined
      ? {}
      : {
          queue: {
            append: async (update) => {
              const { failed, error } = await appendUpdates(bot, intake.stores.queue, [update]);
              if (failed.length > 0) throw error;
              if (!(await intake.stores.queue.confirmDurable())) throw new Error('no replica took the update');
            },
            full: () => intake.backlog.full,
          },
        }),
  });
  await bot.api.setWebhook(webhook.url, { secret_token: webhook.secret, allowed_updates: [...ALLOWED_UPDATES] });
  logger.info({ port: webhook.port, path: webhook.path }, 'webhook server started');
  return () => server.close();
}

function installShutdown(stop: () => Promise<void>, services: Services, logger: Logger): void {
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping: finishing the updates in flight');
    const timer = setTimeout(() => {
      logger.warn('updates still in flight after the grace period; exiting anyway');
      process.exit(0);
    }, SHUTDOWN_GRACE_MS);
    timer.unref();
    stop()
      .catch((error: unknown) => logger.error({ err: error }, 'error while stopping'))
      .then(() => services.close())
      .catch((error: unknown) => logger.error({ err: error }, 'error while closing storage'))
      .finally(() => {
        logger.info('stopped');
        logger.flush();
        process.exit(0);
      });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  // One bad update or a stray rejection must not kill the process: log it and go on.
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled rejection'));
  process.on('uncaughtException', (error) => logger.error({ err: error }, 'uncaught exception'));
}

main().catch((error: unknown) => {
  process.stderr.write(`Switchboard failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});

/** What the configured pool can read and do (photos, voice notes, PDFs), and with which models. */
function logPoolCapabilities(config: Config, logger: Logger): void {
  const providers = config.providers.providers;
  const pool = poolCapabilities(providers);
  const models = providers.flatMap((provider) => [
    `${provider.descriptor.name}/${provider.model}: ${(provider.capabilities?.inputs ?? ['text']).join('+')}`,
    ...(provider.extraModels ?? []).map(
      (extra) =>
        `${provider.descriptor.name}/${extra.model}: ${extra.operations.join('+')} of ${extra.inputs.join('+')}`,
    ),
  ]);
  logger.info({ operations: pool.operations, inputs: pool.inputs, models }, 'pool capabilities');
  const missing = [
    ...(pool.inputs.includes('image') ? [] : ['photos']),
    ...(pool.operations.includes('transcription') ? [] : ['voice notes']),
    ...(pool.inputs.includes('pdf') ? [] : ['PDFs']),
  ];
  if (providers.length > 0 && missing.length > 0) {
    logger.warn({ missing }, `no configured model reads ${missing.join(', ')}: users sending them are told so`);
  }
}
