/**
 * Every provider Switchboard knows, in the default priority order. Adding a provider means adding
 * its folder and one line here; nothing else in the code base names a provider.
 */
import { cerebrasProvider } from './cerebras';
import { cohereProvider } from './cohere';
import { geminiProvider } from './gemini';
import { groqProvider } from './groq';
import { openRouterProvider } from './openrouter';
import type { ProviderDescriptor } from './types';

export const PROVIDERS: readonly ProviderDescriptor[] = [
  groqProvider,
  cerebrasProvider,
  geminiProvider,
  openRouterProvider,
  cohereProvider,
];
