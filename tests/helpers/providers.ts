import { PROVIDERS } from '../../providers/registry';
import type { ProviderDescriptor } from '../../providers/types';

/**
 * The providers as the tests see them: every list comes from the registry (`PROVIDERS`), in its
 * order, which is the default priority order. A test that needs "a provider" takes the first,
 * "the fallback" the second; none names one.
 */

/** A provider's name, as in the registry. */
export type ProviderName = string;

/** Every provider in the registry, in the default priority order. */
export const PROVIDER_NAMES: readonly ProviderName[] = PROVIDERS.map((descriptor) => descriptor.name);

function nth(index: number): ProviderName {
  const name = PROVIDER_NAMES[index];
  if (name === undefined) throw new Error(`the suites need at least ${index + 1} providers in the registry`);
  return name;
}

/** The first provider in the default order: the one that answers while it is healthy. */
export const FIRST_PROVIDER: ProviderName = nth(0);
/** The second: the one the router falls over to. */
export const SECOND_PROVIDER: ProviderName = nth(1);

export function descriptorOf(name: ProviderName): ProviderDescriptor {
  const descriptor = PROVIDERS.find((candidate) => candidate.name === name);
  if (descriptor === undefined) throw new Error(`no provider ${name} in the registry`);
  return descriptor;
}

/** A provider's environment variable: `envVar(name, 'API_KEY_2')` → `<ENV PREFIX>_API_KEY_2`. */
export function envVar(name: ProviderName, suffix: string): string {
  return `${descriptorOf(name).envPrefix}_${suffix}`;
}

/**
 * A made-up key for a provider, long and recognisable, so a leak of any of them is easy to spot:
 * `tag` tells suites apart, `index` a provider's keys. The last four characters (what a masked
 * key shows) differ between providers and between a provider's keys.
 */
export function testKey(name: ProviderName, tag: string, index = 1): string {
  const position = PROVIDER_NAMES.indexOf(name) + 1;
  return `${`${tag}-${name}-SecretKey-`.padEnd(36, '0')}P${position}K${index}`;
}

/** `testKey(name, tag)` of every provider, by name. */
export function testKeys(tag: string): Readonly<Record<ProviderName, string>> {
  return Object.fromEntries(PROVIDER_NAMES.map((name) => [name, testKey(name, tag)]));
}
