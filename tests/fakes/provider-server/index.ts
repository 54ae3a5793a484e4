import { PROVIDERS } from '../../../providers/registry';
import { basePathOf, dialectFor } from './dialect';
import { modelTakesFor } from './media';
import { FakeProviderServer, type FakeProviderServerOptions } from './server';
import type { WireFormat } from './types';

export {
  basePathOf,
  type DialectErrors,
  dialectFor,
  type KeyLimitState,
  type LimitKind,
  type LimitRefusal,
  type MinuteWindow,
  type ProviderDialect,
  type RateLimitDialect,
} from './dialect';
export { FakeProviderServer, type FakeProviderServerOptions, splitWords } from './server';
export type { Behaviour, Handler, RecordedMedia, RecordedRequest, ReplyUsage, WireFormat } from './types';

/**
 * The wire format of every provider in the registry, each mounted under the provider's name, with
 * the base path its real base URL has.
 */
export function allWireFormats(): WireFormat[] {
  return PROVIDERS.map((descriptor) => ({
    ...dialectFor(descriptor.name).format(descriptor.name),
    basePath: basePathOf(descriptor),
    modelTakes: modelTakesFor(descriptor),
  }));
}

/** Starts a fake provider server on a free loopback port; `stop()` it in `afterAll`. */
export function startFakeProviderServer(
  options: Omit<FakeProviderServerOptions, 'formats'> = {},
): Promise<FakeProviderServer> {
  return new FakeProviderServer({ formats: allWireFormats(), ...options }).start();
}
