/**
 * `npm run check-keys`: sends one tiny request with every configured key of every provider and
 * prints which keys work, how fast, and how many requests a day the working ones add up to.
 *
 * It also lists what the configured pool can read (photos, voice notes, PDFs) and with which models;
 * with `--media` it probes each of those models with every key too (a 1×1 PNG to the models that
 * take images, one second of silent WAV to those that transcribe).
 *
 * Exit code: 0 when at least one key works, 1 when none does, 2 on a configuration error or when
 * no key is configured. Keys are only ever printed masked.
 */
import { performance } from 'node:perf_hooks';
import { createProvidersConfig, type Env, isConfigError, loadDotEnv, type ProvidersConfig } from '../bot/config';
import {
  type ChatRequest,
  createAdapter,
  isProviderError,
  type MediaPart,
  type ModelCapabilities,
  maskSecret,
  PROVIDERS,
  type ProviderConfig,
  redactSecrets,
  TEXT_CHAT,
} from '../providers';

const PROBE_PROMPT = 'Reply with the single word OK.';
const DEFAULT_CONCURRENCY = 4;
/** Extra time past the attempt timeout before a check is given up even if the adapter hangs. */
const BACKSTOP_GRACE_MS = 2_000;
const MAX_REASON_CHARS = 80;

type KeyCheckOutcome =
  | {
      readonly ok: true;
      /** The key's daily request limit: what the response headers said, else the configured one. */
      readonly requestsPerDay: number | undefined;
      readonly requestsPerDaySource: 'reported' | 'configured' | undefined;
    }
  | { readonly ok: false; readonly kind: string; readonly reason: string };

interface KeyCheck {
  readonly provider: string;
  readonly maskedKey: string;
  /** The model that answered, or the configured one when the check failed. */
  readonly model: string;
  readonly latencyMs: number;
  readonly outcome: KeyCheckOutcome;
}

export interface CheckKeysOptions {
  /** How many keys are checked at the same time. */
  readonly concurrency?: number;
  /** Also probe every media model (vision, transcription) with every key. */
  readonly media?: boolean;
}

/** A valid 1×1 PNG: what the vision models are shown. */
const PROBE_IMAGE: MediaPart = {
  kind: 'image',
  mimeType: 'image/png',
  data: Buffer.from(
    'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/x8AAwMCAO+ip1sAAAAASUVORK5CYII=',
    'base64',
  ),
};

/** One second of silence as 16 kHz mono 16-bit WAV: what the transcription models are sent. */
function silentWav(): MediaPart {
  const samples = 16_000;
  const data = Buffer.alloc(44 + samples * 2);
  data.write('RIFF', 0, 'latin1');
  data.writeUInt32LE(36 + samples * 2, 4);
  data.write('WAVEfmt ', 8, 'latin1');
  data.writeUInt32LE(16, 16);
  data.writeUInt16LE(1, 20); // PCM
  data.writeUInt16LE(1, 22); // mono
  data.writeUInt32LE(16_000, 24);
  data.writeUInt32LE(32_000, 28);
  data.writeUInt16LE(2, 32);
  data.writeUInt16LE(16, 34);
  data.write('data', 36, 'latin1');
  data.writeUInt32LE(samples * 2, 40);
  return { kind: 'audio', mimeType: 'audio/wav', data, fileName: 'silence.wav', durationSeconds: 1 };
}

/** One model of a provider as configured, with what it takes and does. */
interface ConfiguredModelView {
  readonly model: string;
  readonly capabilities: ModelCapabilities;
}

function modelsOf(provider: ProviderConfig): ConfiguredModelView[] {
  return [
    { model: provider.model, capabilities: provider.capabilities ?? TEXT_CHAT },
    ...(provider.extraModels ?? []).map((extra) => ({ model: extra.model, capabilities: extra })),
  ];
}

/** What the pool can read, and with which models: one line per kind of message. */
function formatCapabilities(config: ProvidersConfig): string[] {
  const list = (wanted: (capabilities: ModelCapabilities) => boolean): string => {
    const models = config.providers.flatMap((provider) =>
      modelsOf(provider)
        .filter((entry) => wanted(entry.capabilities))
        .map((entry) => `${provider.descriptor.name} ${entry.model}`),
    );
    return models.length === 0 ? 'none configured' : models.join(', ');
  };
  const chatWith = (kind: 'image' | 'pdf') => (capabilities: ModelCapabilities) =>
    capabilities.operations.includes('chat') && capabilities.inputs.includes(kind);
  return [
    '',
    'What the pool can read:',
    `  photos and images: ${list(chatWith('image'))}`,
    `  voice notes (transcription): ${list((capabilities) => capabilities.operations.includes('transcription'))}`,
    `  PDFs: ${list(chatWith('pdf'))}`,
  ];
}

interface MediaCheck {
  readonly provider: string;
  readonly maskedKey: string;
  readonly model: string;
  readonly probe: 'vision' | 'transcription';
  readonly latencyMs: number;
  readonly result: string;
}

/** Probes every media model of every enabled provider with every key. */
async function checkMediaModels(config: ProvidersConfig, concurrency: number): Promise<MediaCheck[]> {
  const allKeys = config.providers.flatMap((provider) => provider.keys);
  const tasks: (() => Promise<MediaCheck>)[] = [];
  for (const provider of config.providers) {
    for (const entry of modelsOf(provider)) {
      const probes: MediaCheck['probe'][] = [
        ...(entry.capabilities.operations.includes('chat') && entry.capabilities.inputs.includes('image')
          ? (['vision'] as const)
          : []),
        ...(entry.capabilities.operations.includes('transcription') ? (['transcription'] as const) : []),
      ];
      if (probes.length === 0) continue;
      const adapter = createAdapter({ ...provider, model: entry.model }, config);
      for (const key of provider.keys) {
        for (const probe of probes) {
          tasks.push(async () => {
            const started = performance.now();
            const base = { provider: provider.descriptor.name, maskedKey: maskSecret(key), model: entry.model, probe };
            const request: ChatRequest =
              probe === 'vision'
                ? {
                    messages: [{ role: 'user', content: 'What colour is this pixel? One word.', media: [PROBE_IMAGE] }],
                    maxOutputTokens: 5,
                    timeoutMs: config.attemptTimeoutMs,
                  }
                : {
                    messages: [{ role: 'user', content: '', media: [silentWav()] }],
                    timeoutMs: config.attemptTimeoutMs,
                  };
            try {
              const call =
                probe === 'vision'
                  ? adapter.complete(request, key)
                  : (adapter.transcribe?.(request, key) ?? Promise.reject(new Error('the adapter cannot transcribe')));
              const result = await withBackstop(call, config.attemptTimeoutMs + BACKSTOP_GRACE_MS);
              return { ...base, latencyMs: Math.round(result.latencyMs), result: 'OK' };
            } catch (error) {
              const { kind, reason } = shortReason(error, allKeys);
              return { ...base, latencyMs: Math.round(performance.now() - started), result: `${kind}: ${reason}` };
            }
          });
        }
      }
    }
  }
  return runBounded(tasks, concurrency);
}

function formatMediaReport(checks: readonly MediaCheck[]): string[] {
  if (checks.length === 0) return ['', 'No media model to probe.'];
  const header = ['MEDIA MODEL', 'PROVIDER', 'KEY', 'PROBE', 'RESULT', 'LATENCY'];
  const rows = checks.map((check) => [
    check.model,
    check.provider,
    check.maskedKey,
    check.probe,
    check.result,
    `${check.latencyMs} ms`,
  ]);
  return ['', ...formatTable([header, ...rows])];
}

/** Runs `tasks` with at most `limit` in flight; results keep the jobs' order. */
async function runBounded<T>(tasks: readonly (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const index = next++;
      const task = tasks[index];
      if (task !== undefined) results[index] = await task();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}

/** A short, single-line, key-free reason: status and the provider's message. */
function shortReason(error: unknown, secrets: readonly string[]): { kind: string; reason: string } {
  let kind = 'error';
  let message = error instanceof Error ? error.message : String(error);
  let status = '';
  if (isProviderError(error)) {
    kind = error.kind;
    status = error.status === undefined ? '' : `${error.status} `;
    // Adapters prefix messages with what the other columns already show ("<provider> 401 auth: …").
    const prefix = `${[error.provider, error.status, error.kind].filter((part) => part !== undefined).join(' ')}: `;
    if (message.startsWith(prefix)) message = message.slice(prefix.length);
  }
  const reason = redactSecrets(`${status}${message}`, secrets).replace(/\s+/g, ' ').trim();
  return {
    kind,
    reason: reason.length > MAX_REASON_CHARS ? `${reason.slice(0, MAX_REASON_CHARS - 1)}…` : reason,
  };
}

function withBackstop<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const backstop = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer after ${ms} ms`)), ms);
  });
  return Promise.race([promise, backstop]).finally(() => clearTimeout(timer));
}

/** Checks every key of every enabled provider, at most `concurrency` at a time, in config order. */
async function checkKeys(config: ProvidersConfig, options: CheckKeysOptions = {}): Promise<KeyCheck[]> {
  const allKeys = config.providers.flatMap((provider) => provider.keys);
  const tasks: (() => Promise<KeyCheck>)[] = [];
  for (const provider of config.providers) {
    // Built as the router builds it, but called directly: every key is probed, whatever its quota.
    const adapter = createAdapter(provider, config);
    for (const key of provider.keys) {
      tasks.push(async () => {
        const started = performance.now();
        const base = { provider: provider.descriptor.name, maskedKey: maskSecret(key) };
        try {
          const result = await withBackstop(
            adapter.complete(
              {
                messages: [{ role: 'user', content: PROBE_PROMPT }],
                maxOutputTokens: 5,
                timeoutMs: config.attemptTimeoutMs,
              },
              key,
            ),
            config.attemptTimeoutMs + BACKSTOP_GRACE_MS,
          );
          const reported = result.rateLimits?.requestsPerDay?.limit;
          const configured = provider.limits.requestsPerDay;
          return {
            ...base,
            model: result.model,
            latencyMs: Math.round(result.latencyMs),
            outcome: {
              ok: true,
              requestsPerDay: reported ?? configured,
              requestsPerDaySource:
                reported !== undefined ? 'reported' : configured !== undefined ? 'configured' : undefined,
            },
          };
        } catch (error) {
          return {
            ...base,
            model: provider.model,
            latencyMs: Math.round(performance.now() - started),
            outcome: { ok: false, ...shortReason(error, allKeys) },
          };
        }
      });
    }
  }
  return runBounded(tasks, Math.max(1, options.concurrency ?? DEFAULT_CONCURRENCY));
}

function formatTable(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => row[column]?.length ?? 0))) ?? [];
  return rows.map((row) =>
    row
      .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

/** The report: one row per key, then what the working keys add up to. */
function formatReport(checks: readonly KeyCheck[]): string[] {
  const header = ['PROVIDER', 'KEY', 'RESULT', 'LATENCY', 'MODEL', 'REQUESTS/DAY'];
  const rows = checks.map((check) => [
    check.provider,
    check.maskedKey,
    check.outcome.ok ? 'OK' : `${check.outcome.kind}: ${check.outcome.reason}`,
    `${check.latencyMs} ms`,
    check.model,
    !check.outcome.ok
      ? '-'
      : check.outcome.requestsPerDay === undefined
        ? 'unknown'
        : `${check.outcome.requestsPerDay} (${check.outcome.requestsPerDaySource})`,
  ]);
  const lines = formatTable([header, ...rows]);

  const working = checks.filter((check) => check.outcome.ok);
  let capacity = 0;
  let unknown = 0;
  for (const check of working) {
    if (check.outcome.ok && check.outcome.requestsPerDay !== undefined) capacity += check.outcome.requestsPerDay;
    else unknown += 1;
  }
  lines.push('', `Working keys: ${working.length} of ${checks.length}`);
  if (working.length > 0) {
    const counted = working.length - unknown;
    lines.push(
      `Daily capacity of the working keys: ${capacity} requests/day (${counted} key${counted === 1 ? '' : 's'} with a known limit)`,
    );
    if (unknown > 0) {
      lines.push(`${unknown} working key${unknown === 1 ? ' has' : 's have'} no known daily limit (not counted)`);
    }
    lines.push('Keys of one account or project share its limits, so the sum is an upper bound.');
  }
  return lines;
}

function howToAddKeys(): string[] {
  const example = PROVIDERS[0]?.envPrefix ?? '<PROVIDER>';
  return [
    'No API keys configured: there is nothing to check.',
    'Add at least one to .env (start from .env.example), for example:',
    `  ${example}_API_KEY=<your key>`,
    `  ${example}_API_KEY_2=<another key>     (any number of them: _2, _3 …)`,
    `  ${example}_API_KEYS=<key>,<key>        (or a comma-separated list)`,
    `Providers: ${PROVIDERS.map((provider) => provider.envPrefix).join(', ')}`,
  ];
}

/** The whole command without `process`: returns the exit code; `write` receives the output. */
export async function runCheckKeys(
  env: Env,
  write: (text: string) => void,
  options: CheckKeysOptions = {},
): Promise<number> {
  const print = (lines: readonly string[]) => write(lines.map((line) => `${line}\n`).join(''));
  let config: ProvidersConfig;
  try {
    config = createProvidersConfig(env);
  } catch (error) {
    if (!isConfigError(error)) throw error;
    print([error.message]);
    return 2;
  }
  const keyCount = config.providers.reduce((sum, provider) => sum + provider.keys.length, 0);
  if (keyCount === 0) {
    print(howToAddKeys());
    return 2;
  }

  const names = config.providers.map((provider) => provider.descriptor.name).join(', ');
  const concurrency = Math.max(1, options.concurrency ?? DEFAULT_CONCURRENCY);
  print([
    ...config.warnings.map((warning) => `warning: ${warning}`),
    `Checking ${keyCount} key${keyCount === 1 ? '' : 's'} (${names}), ${concurrency} at a time, ` +
      `${config.attemptTimeoutMs} ms timeout each…`,
    '',
  ]);
  const checks = await checkKeys(config, { concurrency });
  print(formatReport(checks));
  print(formatCapabilities(config));
  if (options.media === true) print(formatMediaReport(await checkMediaModels(config, concurrency)));
  return checks.some((check) => check.outcome.ok) ? 0 : 1;
}

if (require.main === module) {
  const finish = (code: number) => {
    // Exit explicitly: some SDKs leave timers running for seconds after a call.
    process.stdout.write('', () => process.exit(code));
  };
  (async () => {
    try {
      loadDotEnv();
    } catch (error) {
      process.stdout.write(`Could not read .env: ${error instanceof Error ? error.message : String(error)}\n`);
      return 2;
    }
    return runCheckKeys(process.env, (text) => process.stdout.write(text), {
      media: process.argv.slice(2).includes('--media'),
    });
  })().then(finish, (error: unknown) => {
    process.stderr.write(`check-keys failed: ${error instanceof Error ? error.message : String(error)}\n`);
    finish(1);
  });
}
