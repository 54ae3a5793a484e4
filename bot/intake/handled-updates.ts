/**
 * The updates this process handled lately, by update id (the most recent `max`; the oldest are
 * forgotten first): those the queue worker finished and those the poller handled itself while
 * Redis was away. A Redis failover can hand one of them out again: its acknowledgement or its
 * delivery lived only on the old master, or its append reached Redis although the poller took it
 * for failed. The worker then acknowledges it again (marking its turn) instead of answering twice.
 * The update id, not the entry id, is what counts: an update the new master did not have is
 * appended again under a new entry id.
 */
export class HandledUpdates {
  private readonly ids = new Set<number>();

  constructor(private readonly max = 10_000) {}

  add(updateId: number): void {
    this.ids.delete(updateId);
    this.ids.add(updateId);
    if (this.ids.size > this.max) this.ids.delete(this.ids.values().next().value as number);
  }

  has(updateId: number): boolean {
    return this.ids.has(updateId);
  }
}
