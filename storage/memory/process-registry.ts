import type { ProcessBeat, ProcessRegistry } from '../types';

/** The heartbeats of one process's own stores (memory mode: only itself). */
export class MemoryProcessRegistry implements ProcessRegistry {
  private readonly beats = new Map<string, ProcessBeat & { readonly until: number }>();

  async beat(id: string, info: string, now: number, ttlMs: number): Promise<void> {
    this.beats.set(id, { id, info, at: now, until: now + ttlMs });
  }

  async list(now: number): Promise<ProcessBeat[]> {
    const alive: ProcessBeat[] = [];
    for (const [id, beat] of this.beats) {
      if (beat.until > now) alive.push({ id, info: beat.info, at: beat.at });
      else this.beats.delete(id);
    }
    return alive.sort((left, right) => (left.id < right.id ? -1 : left.id > right.id ? 1 : 0));
  }

  async remove(id: string): Promise<void> {
    this.beats.delete(id);
  }
}
