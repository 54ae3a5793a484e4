import { existsSync } from 'node:fs';
import path from 'node:path';
import { PROVIDERS } from '../../../providers/registry';
import type { ProviderDescriptor } from '../../../providers/types';
import { GENERIC_DIALECTS } from './generic-dialects';
import type { LimitRefusal, ProviderDialect } from './dialect-types';

export type * from './dialect-types';

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
/** A refusal that lasts until the quota day (or month) turns, not a minute. */
export const isDailyRefusal = (refusal: LimitRefusal): boolean =>
  refusal.kind === 'rpd' || refusal.kind === 'tpd' || refusal.kind === 'rpmo';
