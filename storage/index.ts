/**
 * The storage layer's public face, for `bot/` and the tools: the stores (memory, or Redis shared by
 * several processes), the ports they implement and how to reach Redis. The Redis scripts, the
 * fallback wrappers and the client helpers stay behind it (docs/architecture.md).
 */
export * from './types';
export { createStores, type StorageEvent, type StoreOptions, type Stores } from './create-stores';
export type { RedisAddress, RedisTopology } from './redis/client';
