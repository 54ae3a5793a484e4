/**
 * The provider pool: each provider's keys, endpoint, model and limits, the order they are tried
 * in, and the router's timings.
 */
import { z } from 'zod';
import {
  DEFAULT_ROUTER_SETTINGS,
  type KeyLimits,
  PROVIDERS,
  type ProviderConfig,
  type ProviderDescriptor,
  type RoleChoice,
  type RouterSettings,
  resolveModels,
} from '../../providers';
import {
  type FieldSpecs,
  flag,
  httpUrl,
  milliseconds,
  oneOf,
  parseFields,
  quote,
  readVariable,
  requiredString,
  share,
  splitList,
  text,
  wholeNumber,
} from './fields';
import type { ConfigIssue, Env, ProvidersConfig } from './types';

const ROUTING_MODES = ['priority', 'fastest'] as const satisfies readonly RouterSettings['routing'][];

/** A per-key limit; 0 is kept here and means "no limit" (see `mergeLimits`). */
function limit() {
  return wholeNumber(0).optional();
}

/**
 * A model for one role (`<P>_VISION_MODEL`, `<P>_TRANSCRIPTION_MODEL`): unset keeps the provider's
 * default, `none` switches the role off for the provider, anything else names the model.
 */
function roleModel() {
  return text(200)
    .transform((value): RoleChoice => (value.toLowerCase() === 'none' ? null : value))
    .optional();
}

/** One key variable: keys separated by commas (in any key variable, not only `<P>_API_KEYS`). */
const keyList = requiredString()
  .transform(splitList)
  .pipe(
    z.array(
      z.string().regex(/^[\x21-\x7E]+$/, {
        error: 'a key contains a space or a character that is not printable ASCII (separate several keys with commas)',
      }),
    ),
  );

function providerOrder() {
  const known = PROVIDERS.map((provider) => provider.name);
  return requiredString()
    .transform((value) => splitList(value).map((name) => name.toLowerCase()))
    .pipe(
      z
        .array(
          z.string().refine((name) => known.includes(name), {
            error: (issue) => `unknown provider ${quote(issue.input)} (known: ${known.join(', ')})`,
          }),
        )
        .superRefine((names, context) => {
          for (const [index, name] of names.entries()) {
            if (names.indexOf(name) !== index)
              context.addIssue({ code: 'custom', message: `"${name}" is listed twice` });
          }
        }),
    );
}

export function routerFields() {
  const defaults = DEFAULT_ROUTER_SETTINGS;
  return {
    order: ['PROVIDER_ORDER', providerOrder().optional()],
    routing: ['ROUTING', oneOf(ROUTING_MODES).default(defaults.routing)],
    requestDeadlineMs: ['REQUEST_DEADLINE_MS', milliseconds().default(defaults.requestDeadlineMs)],
    attemptTimeoutMs: ['ATTEMPT_TIMEOUT_MS', milliseconds().default(defaults.attemptTimeoutMs)],
    firstTokenTimeoutMs: ['FIRST_TOKEN_TIMEOUT_MS', milliseconds().default(defaults.firstTokenTimeoutMs)],
    streamIdleTimeoutMs: ['STREAM_IDLE_TIMEOUT_MS', milliseconds().default(defaults.streamIdleTimeoutMs)],
    breakerFailureThreshold: [
      'BREAKER_FAILURE_THRESHOLD',
      wholeNumber(1, 1_000).default(defaults.breakerFailureThreshold),
    ],
    breakerOpenMs: ['BREAKER_OPEN_MS', milliseconds().default(defaults.breakerOpenMs)],
    authRecheckMs: ['AUTH_RECHECK_MS', milliseconds().default(defaults.authRecheckMs)],
    hedgeMaxShare: ['HEDGE_MAX_SHARE', share().default(defaults.hedgeMaxShare)],
    hedgeMinDelayMs: ['HEDGE_MIN_DELAY_MS', milliseconds().default(defaults.hedgeMinDelayMs)],
    resetAwareSpending: ['RESET_AWARE_SPENDING', flag().default(defaults.resetAwareSpending)],
  } as const satisfies FieldSpecs;
}

export function providerFields(descriptor: ProviderDescriptor) {
  const prefix = descriptor.envPrefix;
  return {
    baseUrl: [`${prefix}_BASE_URL`, httpUrl().default(descriptor.defaultBaseUrl)],
    model: [`${prefix}_MODEL`, text(200).default(descriptor.defaultModel)],
    visionModel: [`${prefix}_VISION_MODEL`, roleModel()],
    transcriptionModel: [`${prefix}_TRANSCRIPTION_MODEL`, roleModel()],
    requestsPerMinute: [`${prefix}_RPM`, limit()],
    requestsPerDay: [`${prefix}_RPD`, limit()],
    tokensPerMinute: [`${prefix}_TPM`, limit()],
    tokensPerDay: [`${prefix}_TPD`, limit()],
    requestsPerMonth: [`${prefix}_REQUESTS_PER_MONTH`, limit()],
  } as const satisfies FieldSpecs;
}

/**
 * The key variables of one provider in reading order: `<P>_API_KEY`, `<P>_API_KEY_<n>` by n (gaps
 * allowed), then `<P>_API_KEYS`. Names that look like key variables but are none are returned
 * apart, to warn about.
 */
function keyVariables(env: Env, prefix: string): { names: string[]; ignored: string[] } {
  const base = `${prefix}_API_KEY`;
  const numbered: { name: string; rank: number }[] = [];
  const ignored: string[] = [];
  for (const name of Object.keys(env)) {
    if (!name.startsWith(base) || name === `${base}S`) continue;
    const suffix = name.slice(base.length);
    if (suffix === '') numbered.push({ name, rank: 0 });
    else if (/^_[1-9]\d*$/.test(suffix)) numbered.push({ name, rank: Number(suffix.slice(1)) });
    else ignored.push(name);
  }
  numbered.sort((left, right) => left.rank - right.rank);
  const names = numbered.map(({ name }) => name);
  if (env[`${base}S`] !== undefined) names.push(`${base}S`);
  return { names, ignored: ignored.sort() };
}

function readKeys(env: Env, descriptor: ProviderDescriptor, issues: ConfigIssue[], warnings: string[]): string[] {
  const prefix = descriptor.envPrefix;
  const { names, ignored } = keyVariables(env, prefix);
  for (const name of ignored) {
    warnings.push(
      `${name} is not read: name keys ${prefix}_API_KEY, ${prefix}_API_KEY_2, ${prefix}_API_KEY_3 … or list them in ${prefix}_API_KEYS`,
    );
  }
  const keys: string[] = [];
  for (const variable of names) {
    const value = readVariable(env, variable);
    if (value === undefined) continue;
    const result = keyList.safeParse(value);
    if (!result.success) {
      for (const issue of result.error.issues) issues.push({ variable, problem: issue.message });
      continue;
    }
    for (const key of result.data) if (!keys.includes(key)) keys.push(key);
  }
  return keys;
}

/** 0 in a limit variable means "no limit" (also to lift a descriptor's default); unset keeps the default. */
function mergeLimits(
  defaults: KeyLimits,
  overrides: Record<Exclude<keyof KeyLimits, 'tokensPerHour'>, number | undefined>,
): KeyLimits {
  const limits: { -readonly [Name in keyof KeyLimits]: number } = {};
  for (const name of [
    'requestsPerMinute',
    'requestsPerDay',
    'tokensPerMinute',
    'tokensPerDay',
    'requestsPerMonth',
  ] as const) {
    const value = overrides[name] ?? defaults[name];
    if (value !== undefined && value > 0) limits[name] = value;
  }
  return limits;
}

export function readProviders(env: Env, issues: ConfigIssue[]): ProvidersConfig | undefined {
  const warnings: string[] = [];
  const router = parseFields(env, routerFields(), issues);
  const settings: ProviderConfig[] = [];
  let failed = router === undefined;
  for (const descriptor of PROVIDERS) {
    const keys = readKeys(env, descriptor, issues, warnings);
    const fields = parseFields(env, providerFields(descriptor), issues);
    if (fields === undefined) failed = true;
    if (fields === undefined || keys.length === 0) continue;
    const { baseUrl, model, visionModel, transcriptionModel, ...limits } = fields;
    const merged = mergeLimits(descriptor.defaultLimits, limits);
    const { capabilities, extraModels } = resolveModels(
      descriptor,
      { model, limits: merged },
      { vision: visionModel, transcription: transcriptionModel },
    );
    settings.push({ descriptor, keys, baseUrl, model, limits: merged, capabilities, extraModels });
  }
  if (failed || router === undefined) return undefined;

  const listed = router.order ?? [];
  const order = [...listed, ...PROVIDERS.map(({ name }) => name).filter((name) => !listed.includes(name))];
  const providers = order.flatMap((name) => settings.filter((provider) => provider.descriptor.name === name));
  if (providers.length === 0) {
    const example = PROVIDERS[0]?.envPrefix ?? '<PROVIDER>';
    warnings.push(`no provider has an API key, so nothing can answer: set ${example}_API_KEY (see .env.example)`);
  }
  const { order: _listed, ...rest } = router;
  return { ...rest, maxWaitMs: DEFAULT_ROUTER_SETTINGS.maxWaitMs, providers, order, warnings };
}
