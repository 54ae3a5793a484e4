/**
 * What the durable intake learns from the handling of an update it hands to the bot
 * (docs/architecture.md, "Intake"): whether the handling failed (the error boundaries report it
 * here instead of telling the user, so that a retried update does not tell them each time; the
 * intake tells them once if it gives up), and whether the update let its chat's later updates go
 * on before it finished (a long paste waiting for its next parts).
 */
export class UpdateHooks {
  private readonly watched = new Map<number, { failure: unknown; releaseTurn: (() => void) | undefined }>();

  /** The intake is about to hand the update to the bot. */
  watch(updateId: number, releaseTurn?: () => void): void {
    this.watched.set(updateId, { failure: undefined, releaseTurn });
  }

  /**
   * The update's handling failed. Resolves true when the intake watches it (and will retry it or
   * tell the user), false when the caller should tell the user itself.
   */
  failed(updateId: number, error: unknown): boolean {
    const watched = this.watched.get(updateId);
    if (watched === undefined) return false;
    watched.failure ??= error ?? new Error('update failed');
    return true;
  }

  /** The update will not touch its chat's history before its later updates are handled: let them go. */
  releaseTurn(updateId: number): void {
    const watched = this.watched.get(updateId);
    const release = watched?.releaseTurn;
    if (watched === undefined || release === undefined) return;
    watched.releaseTurn = undefined;
    release();
  }

  /** The handling ended: its failure, if any (undefined when it succeeded). */
  finish(updateId: number): unknown {
    const watched = this.watched.get(updateId);
    this.watched.delete(updateId);
    return watched?.failure;
  }
}
