import { existsSync } from 'node:fs';
import path from 'node:path';
import { PROVIDERS } from '../../../providers/registry';
import type { KeyLimits, ProviderDescriptor } from '../../../providers/types';
import { GENERIC_DIALECTS } from './generic-dialects';
import type { Behaviour, WireFormat } from './types';

/**
 * A provider's dialect: how the fake server speaks to its adapter (the wire format and where it is
 * mounted), and that provider's own words for each kind of failure and for its rate limits. Shared
 * tests, fakes and benchmarks get provider-specific behaviour only through `dialectFor(name)`, so
 * none of them names a provider.
 *
 * A provider's dialect is the module `dialects/<name>.ts` next to this file (found by the name in
 * the registry, exporting `dialect`); a provider without one gets the generic dialect of the wire
 * format its descriptor names (`descriptor.wireFormat`), if the fake has one.
 */
export interface ProviderDialect {
  /** The fake's wire format for this provider, mounted under `mount` (the provider's name). */
  format(mount: string): WireFormat;
  readonly errors: DialectErrors;
  readonly limits: RateLimitDialect;
}

/**
 * The provider's own response (status, body, headers) for each kind of failure of the router's
 * taxonomy. The optional ones are other ways the provider has of saying the same thing.
 */
export interface DialectErrors {
  /** auth: a key the provider does not know. */
  invalidKey(): Behaviour;
  /** auth: a 403 refusing the key, where the provider has one that means that. */
  forbidden?(): Behaviour;
  /** auth: a suspended key, where the provider's refusal quotes the key itself (adapters must redact it). */
  keySuspended?(apiKey: string): Behaviour;
  /** rate_limited: a per-minute limit reached; the provider says to come back in `retryAfterSeconds`. */
  rateLimited(retryAfterSeconds: number): Behaviour;
  /** quota_exhausted: the key's daily (or monthly) quota is used up. */
  quotaExhausted(): Behaviour;
  /** transient: a 500. */
  serverError(): Behaviour;
  /** transient: a 503 (or the provider's "overloaded"). */
  unavailable(): Behaviour;
  /** context_too_long: the conversation exceeds the model's context. */
  contextTooLong(): Behaviour;
  /** context_too_long, said another way (e.g. a 413), where the provider has one. */
  requestTooLarge?(): Behaviour;
  /** bad_request: the configured model does not exist. */
  modelNotFound(): Behaviour;
}

export type LimitKind = 'rpm' | 'tpm' | 'rpd' | 'tpd';

/** Whether a minute window counts the last 60 s, or the clock minute. */
export type MinuteWindow = 'sliding' | 'fixed';

/** What a fake's rate limiter knows about one key when it answers. */
export interface KeyLimitState {
  readonly limits: KeyLimits;
  readonly now: number;
  readonly requestsToday: number;
  readonly tokensToday: number;
  readonly requestsThisMinute: number;
  readonly tokensThisMinute: number;
  /** When the provider's quota day turns (the next midnight in its reset zone). */
  readonly dayEndsAt: number;
  /**
   * When the minute window is whole again: a fixed window's end, or, for a sliding one, when the
   * newest request in it leaves it (`now` when it is empty).
   */
  readonly minuteWindowResetAt: number;
}

/** A request refused by a limit. */
export interface LimitRefusal {
  readonly kind: LimitKind;
  readonly limit: number;
  readonly used: number;
  /** What this request asked for in the refused window (1 request, or its tokens). */
  readonly requested: number;
  readonly retryAfterMs: number;
}

/** How a provider enforces and announces its limits, as far as the fake's limiter models it. */
export interface RateLimitDialect {
  readonly minuteWindow: MinuteWindow;
  /** Whether the provider weighs input + the requested maximum output before running a request. */
  readonly countsMaxOutputUpfront: boolean;
  /** The rate-limit headers of a successful answer, if the provider sends any. */
  successHeaders(state: KeyLimitState): Record<string, string> | undefined;
  /** The provider's own 429 (body and headers) for a refused request. */
  refusal(state: KeyLimitState, refusal: LimitRefusal, model: string): Behaviour;
}

const found = new Map<string, ProviderDialect>();

/** The dialect of the registry provider `name` (its own module, or its wire format's generic one). */
export function dialectFor(name: string): ProviderDialect {
  const cached = found.get(name);
  if (cached !== undefined) return cached;
  const descriptor = PROVIDERS.find((candidate) => candidate.name === name);
  if (descriptor === undefined) throw new Error(`fake provider server: no provider "${name}" in the registry`);
  const dialect = ownDialect(descriptor) ?? GENERIC_DIALECTS[descriptor.wireFormat];
  if (dialect === undefined) {
    throw new Error(
      `fake provider server: ${name} speaks ${descriptor.wireFormat}, which has no generic fake; ` +
        `add tests/fakes/provider-server/dialects/${name}.ts`,
    );
  }
  found.set(name, dialect);
  return dialect;
}

/** `dialects/<name>` (`.ts` under Jest, `.js` once built), when the provider has one. */
function ownDialect(descriptor: ProviderDescriptor): ProviderDialect | undefined {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(descriptor.name)) return undefined;
  const file = path.join(__dirname, 'dialects', descriptor.name);
  if (!existsSync(`${file}.ts`) && !existsSync(`${file}.js`)) return undefined;
  // Found by name rather than imported: no shared file lists the providers.
  const module = require(file) as { readonly dialect?: ProviderDialect };
  if (module.dialect === undefined) throw new Error(`${file} exports no \`dialect\``);
  return module.dialect;
}

/** The path part of a provider's default base URL (`/api/v1`, or `''`): its base URL on the fake includes it too. */
export function basePathOf(descriptor: ProviderDescriptor): string {
  return new URL(descriptor.defaultBaseUrl).pathname.replace(/\/+$/, '');
}

// ─── Helpers for dialects' rate-limit headers ────────────────────────────────────────────────────

/** One window's limit / remaining / reset headers; none for a window the key has no limit on. */
export function windowHeaders(
  limit: number | undefined,
  used: number,
  names: { readonly limit: string; readonly remaining: string; readonly reset: readonly [string, string] },
): Record<string, string> {
  if (limit === undefined) return {};
  return {
    [names.limit]: String(limit),
    [names.remaining]: String(Math.max(0, limit - used)),
    [names.reset[0]]: names.reset[1],
  };
}

/** A duration as seconds with a fraction (`11.382`), never negative. */
export const secondsText = (ms: number): string => String(Math.max(0, ms) / 1000);

/** A `retry-after` value: whole seconds, at least 1. */
export const retryAfterSeconds = (ms: number): string => String(Math.max(1, Math.ceil(ms / 1000)));

/** Whether a refusal is for a daily window (requests or tokens per day). */
export const isDailyRefusal = (refusal: LimitRefusal): boolean => refusal.kind === 'rpd' || refusal.kind === 'tpd';
