import type { Broadcast, SettingsFields, SettingsStore } from './types';

/** The broadcast message that drops one user's cached settings in every process. */
const CHANGED = 'settings-changed:';

export interface SettingsCacheOptions {
  /** How long an entry is served without asking the store again. */
  readonly ttlMs: number;
  /** Entries kept at most; the oldest read goes first. */
  readonly maxEntries: number;
  readonly now?: () => number;
}

interface Entry {
  readonly fields: SettingsFields;
  readonly expiresAt: number;
}

/**
 * A process-local cache in front of the shared settings store. Every update reads its sender's
 * settings before anything else happens (bot/create-bot.ts), and users change them rarely, so
 * most reads are answered here and an answer waits for one Redis round trip less.
 *
 * A change through any process (`update`, `clear`) is broadcast and drops that user's entry in
 * every process, this one included. Redis pub/sub keeps nothing for a subscriber that is not
 * connected, so a process cut off from Redis while another changed someone's settings can serve
 * the older ones until its entry expires: `ttlMs` bounds that. A read that was under way when any
 * entry was dropped is returned but not kept (it may hold what the change replaced). While Redis
 * is away, what is cached is still served; what is not fails as the store fails.
 */
export class CachedSettingsStore implements SettingsStore {
  private readonly entries = new Map<string, Entry>();
  /** Entries dropped so far: a read that saw this change while it waited is not kept. */
  private drops = 0;
  private readonly now: () => number;

  constructor(
    private readonly store: SettingsStore,
    private readonly broadcast: Broadcast,
    private readonly options: SettingsCacheOptions,
  ) {
    this.now = options.now ?? Date.now;
    broadcast.subscribe((message) => {
      if (message.startsWith(CHANGED)) this.drop(message.slice(CHANGED.length));
    });
  }

  async load(userId: string): Promise<SettingsFields> {
    const entry = this.entries.get(userId);
    if (entry !== undefined) {
      if (entry.expiresAt > this.now()) return entry.fields;
      this.entries.delete(userId);
    }
    const drops = this.drops;
    const fields = Object.freeze({ ...(await this.store.load(userId)) });
    if (this.drops === drops) this.keep(userId, fields);
    return fields;
  }

  async update(userId: string, changes: Readonly<Record<string, string | null>>): Promise<SettingsFields> {
    this.drop(userId);
    try {
      return await this.store.update(userId, changes);
    } finally {
      // Also when the update failed: it may have been applied before its answer was lost.
      await this.announce(userId);
    }
  }

  async clear(userId: string): Promise<void> {
    this.drop(userId);
    try {
      await this.store.clear(userId);
    } finally {
      await this.announce(userId);
    }
  }

  /** Users with settings cached now (for tests and the memory budget). */
  get size(): number {
    return this.entries.size;
  }

  private keep(userId: string, fields: SettingsFields): void {
    this.entries.delete(userId);
    this.entries.set(userId, { fields, expiresAt: this.now() + this.options.ttlMs });
    while (this.entries.size > this.options.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }

  private drop(userId: string): void {
    this.drops += 1;
    this.entries.delete(userId);
  }

  /**
   * Tells every process the user's settings changed. When it cannot (Redis away), the others keep
   * what they have until it expires; the change itself stands.
   */
  private async announce(userId: string): Promise<void> {
    await this.broadcast.publish(`${CHANGED}${userId}`).catch(() => undefined);
  }
}
