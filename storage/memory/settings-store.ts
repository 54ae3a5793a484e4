import type { SettingsFields, SettingsStore } from '../types';

/**
 * Settings of one process, lost on restart. Bounded: past `maxUsers` users the least recently
 * changed go first.
 */
export class MemorySettingsStore implements SettingsStore {
  private readonly users = new Map<string, SettingsFields>();

  constructor(private readonly maxUsers = 100_000) {}

  async load(userId: string): Promise<SettingsFields> {
    return { ...(this.users.get(userId) ?? {}) };
  }

  async update(userId: string, changes: Readonly<Record<string, string | null>>): Promise<SettingsFields> {
    const fields: Record<string, string> = { ...(this.users.get(userId) ?? {}) };
    for (const [name, value] of Object.entries(changes)) {
      if (value === null || value === '') delete fields[name];
      else fields[name] = value;
    }
    this.users.delete(userId);
    if (Object.keys(fields).length > 0) this.users.set(userId, fields);
    while (this.users.size > this.maxUsers) {
      const oldest = this.users.keys().next().value;
      if (oldest === undefined) break;
      this.users.delete(oldest);
    }
    return { ...fields };
  }

  async clear(userId: string): Promise<void> {
    this.users.delete(userId);
  }
}
