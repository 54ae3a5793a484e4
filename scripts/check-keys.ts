/**
 * `npm run check-keys`: sends one tiny request with every configured key of every provider and
 * prints which keys work, how fast, and how many requests a day the working ones add up to.
 *
 * Exit code: 0 when at least one key works, 1 when none does, 2 on a configuration error or when
 * no key is configured. Keys are only ever printed masked.
 */
import { performance } from 'node:perf_hooks';
import { createProvidersConfig, type Env, isConfigError, loadDotEnv, type ProvidersConfig } from '../bot/config';
import { createAdapter, isProviderError, maskSecret, PROVIDERS, redactSecrets } from '../providers';

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
    return runCheckKeys(process.env, (text) => process.stdout.write(text));
  })().then(finish, (error: unknown) => {
    process.stderr.write(`check-keys failed: ${error instanceof Error ? error.message : String(error)}\n`);
    finish(1);
  });
}
