/**
 * Every provider Switchboard knows, in the default priority order. Adding a provider means adding
 * its folder and one line here; nothing else in the code base names a provider.
 */
import { groqProvider } from './groq';
import type { ProviderDescriptor } from './types';

export const PROVIDERS: readonly ProviderDescriptor[] = [groqProvider];

export function findProvider(name: string): ProviderDescriptor | undefined {
  return PROVIDERS.find((provider) => provider.name === name);
}
