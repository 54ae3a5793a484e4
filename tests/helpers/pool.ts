import { DEFAULT_ROUTER_SETTINGS, Router, type RouterOptions } from '../../providers/router/router';
import type { KeyLimits, ProviderDescriptor } from '../../providers/types';
import { MemoryQuotaStore } from '../../storage/memory/quota-store';
import { MemoryStatsStore } from '../../storage/memory/stats-store';
import type { FakeProviderServer } from '../fakes/provider-server';
import { FakeClock } from './fake-clock';

export interface ProviderSetup {
  readonly descriptor: ProviderDescriptor;
  readonly keys: readonly string[];
  readonly limits?: KeyLimits;
}

export const TEST_ATTEMPT_TIMEOUT_MS = 300;

/**
 * A router over real adapters pointed at the fake provider server, with a virtual clock (waiting
 * costs no real time), in-memory stores and short timeouts. `overrides` replace any option.
 */
export function buildRouter(
  server: FakeProviderServer,
  providers: readonly ProviderSetup[],
  overrides: Partial<RouterOptions> = {},
): { router: Router; clock: FakeClock; stats: MemoryStatsStore } {
  const clock = new FakeClock(undefined, true);
  const stats = new MemoryStatsStore();
  const router = new Router({
    ...DEFAULT_ROUTER_SETTINGS,
    providers: providers.map(({ descriptor, keys, limits }) => ({
      descriptor,
      baseUrl: server.baseUrlFor(descriptor.name),
      model: descriptor.defaultModel,
      keys,
      limits: limits ?? {},
    })),
    requestDeadlineMs: 10_000,
    attemptTimeoutMs: TEST_ATTEMPT_TIMEOUT_MS,
    firstTokenTimeoutMs: TEST_ATTEMPT_TIMEOUT_MS,
    streamIdleTimeoutMs: TEST_ATTEMPT_TIMEOUT_MS,
    // Off unless a test turns it on: with a clock that skips waits, every request would hedge.
    hedgeMaxShare: 0,
    quotaStore: new MemoryQuotaStore(),
    statsStore: stats,
    clock,
    random: () => 0.5,
    ...overrides,
  });
  return { router, clock, stats };
}
