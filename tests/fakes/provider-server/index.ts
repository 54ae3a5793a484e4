import { cohereFormat } from './cohere';
import { geminiFormat } from './gemini';
import { cerebrasFormat, groqFormat, openRouterFormat } from './openai-compatible';
import { FakeProviderServer, type FakeProviderServerOptions } from './server';
import type { WireFormat } from './types';

export { FakeProviderServer, type FakeProviderServerOptions, splitWords } from './server';
export type { Behaviour, Handler, RecordedRequest, ReplyUsage, WireFormat } from './types';

/** Every wire format the fake speaks, each mounted under its dialect name. */
export function allWireFormats(): WireFormat[] {
  return [groqFormat(), cerebrasFormat(), openRouterFormat(), geminiFormat(), cohereFormat()];
}

/** Starts a fake provider server on a free loopback port; `stop()` it in `afterAll`. */
export function startFakeProviderServer(
  options: Omit<FakeProviderServerOptions, 'formats'> = {},
): Promise<FakeProviderServer> {
  return new FakeProviderServer({ formats: allWireFormats(), ...options }).start();
}
