/**
 * The core's public face: what `bot/`, `scripts/` and `bench/` may use. Adapters, the router's
 * internals and the shared adapter helpers stay behind it; `storage/` sees only `types.ts` and
 * `ports.ts`. The dependency check in `npm test` holds both rules (docs/architecture.md).
 */
export * from './types';
export * from './ports';
export { PROVIDERS } from './registry';
export {
  createAdapter,
  DEFAULT_ROUTER_SETTINGS,
  keyIdFor,
  type ProviderSnapshot,
  Router,
  type HedgeOutcome,
  type RouterObserver,
  type RouterSettings,
  type RouterSnapshot,
  type RouteInfo,
  type RoutedResult,
  type RoutedStreamEvent,
  type RoutePreference,
  type RouteRequest,
  type RouterLogger,
  type RouterOptions,
} from './router/router';
export {
  canServe,
  inputsOf,
  type Needs,
  needsOf,
  poolCapabilities,
  type ProviderModels,
  type RoleChoice,
  resolveModels,
} from './router/capabilities';
export { type FailedAttempt, isRouterError, RouterError, type RouterErrorKind } from './router/errors';
export type { RoutingMode } from './router/policy';
export type { BreakerState } from './router/breaker';
export type { HealthSummary } from './router/health';
export { type Clock, systemClock } from './router/clock';
export { nextQuotaDayStart, quotaDay } from './router/quota-day';
export { countTokens, estimateInputTokens, mediaTokens, messageTokens, withTokens } from './router/token-estimate';
export { maskSecret, redactSecrets } from './shared/secrets';
export { transportFetch } from './shared/http-transport';
export { percentile } from './shared/percentile';
