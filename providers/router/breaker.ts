/**
 * A circuit breaker per provider. Closed: requests flow. After `failureThreshold` consecutive
 * transient failures (or one hang: a hang costs a whole attempt timeout, too dear to pay again)
 * it opens for `openMs`; then one probe request is let through. A successful probe closes it; a
 * failed one opens it again for twice as long (up to `maxOpenMs`). So a dead provider costs one
 * timeout per backoff period, not one per user message.
 */
export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  readonly failureThreshold: number;
  readonly openMs: number;
  readonly maxOpenMs?: number;
}

export class CircuitBreaker {
  private consecutiveFailures = 0;
  private openUntil = 0;
  private currentOpenMs: number;
  private probing = false;
  private opened = false;

  constructor(private readonly options: BreakerOptions) {
    this.currentOpenMs = options.openMs;
  }

  state(now: number): BreakerState {
    if (!this.opened) return 'closed';
    return now < this.openUntil || this.probing ? 'open' : 'half-open';
  }

  /** When an open breaker lets a probe through (undefined unless open and waiting). */
  openUntilAt(now: number): number | undefined {
    return this.state(now) === 'open' && now < this.openUntil ? this.openUntil : undefined;
  }

  /** Whether a request may go now; in half-open state this takes the single probe slot. */
  tryEnter(now: number): boolean {
    const state = this.state(now);
    if (state === 'closed') return true;
    if (state === 'open') return false;
    this.probing = true;
    return true;
  }

  /** Gives back a probe slot taken by `tryEnter` that was not used (no key was free). */
  cancelEntry(): void {
    this.probing = false;
  }

  recordSuccess(): void {
    this.consecutiveFailures = 0;
    this.opened = false;
    this.probing = false;
    this.currentOpenMs = this.options.openMs;
  }

  /** A transient failure; `hang` when it cost a whole attempt timeout. */
  recordFailure(now: number, hang: boolean): void {
    if (this.probing) {
      // The probe failed: back off further.
      this.probing = false;
      this.currentOpenMs = Math.min(this.currentOpenMs * 2, this.options.maxOpenMs ?? 300_000);
      this.open(now);
      return;
    }
    if (this.opened) return; // a request that started before the breaker opened
    this.consecutiveFailures += 1;
    if (hang || this.consecutiveFailures >= this.options.failureThreshold) this.open(now);
  }

  /** A failure that says nothing about the provider's health (a bad key, a quota) ends a probe neutrally. */
  recordNeutral(): void {
    this.probing = false;
  }

  private open(now: number): void {
    this.opened = true;
    this.openUntil = now + this.currentOpenMs;
  }
}
