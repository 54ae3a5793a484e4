/**
 * Timers for one provider attempt. SDK timeouts only cover the wait for response headers, so a
 * body that stalls half-way would hang forever: each attempt gets one AbortController that the
 * caller's signal, the attempt timeout and the stream idle timer all abort, and the reason is
 * remembered so the adapter can tell "timed out" from "cancelled by the caller".
 */

export type AbortCause = 'caller' | 'timeout' | 'first-token-timeout' | 'idle-timeout';

export class AttemptControl {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private cause: AbortCause | undefined;
  private readonly onCallerAbort = (): void => this.abort('caller');

  constructor(
    private readonly callerSignal: AbortSignal | undefined,
    onCancelable?: (cancel: () => void) => void,
  ) {
    if (callerSignal?.aborted) this.abort('caller');
    else callerSignal?.addEventListener('abort', this.onCallerAbort, { once: true });
    onCancelable?.(this.onCallerAbort);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Why the attempt was aborted, or `undefined` while it runs. */
  get abortCause(): AbortCause | undefined {
    return this.cause;
  }

  /** (Re)arms the single attempt timer; a later call replaces the earlier deadline. */
  arm(cause: Exclude<AbortCause, 'caller'>, ms: number): void {
    this.disarm();
    if (!Number.isFinite(ms) || ms <= 0) return;
    this.timer = setTimeout(() => this.abort(cause), ms);
  }

  disarm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  abort(cause: AbortCause): void {
    if (this.cause !== undefined) return;
    this.cause = cause;
    this.disarm();
    this.controller.abort(new Error(`attempt aborted: ${cause}`));
  }

  /** Call when the attempt is over, whatever its outcome. */
  dispose(): void {
    this.disarm();
    this.callerSignal?.removeEventListener('abort', this.onCallerAbort);
  }

  /** Resolves… never, but rejects as soon as the attempt is aborted. Used to race SDK promises that ignore signals. */
  whenAborted(): Promise<never> {
    return new Promise<never>((_, reject) => {
      const fail = (): void => reject(this.controller.signal.reason);
      if (this.controller.signal.aborted) fail();
      else this.controller.signal.addEventListener('abort', fail, { once: true });
    });
  }
}

/** Human text for an abort cause, used in error messages. */
export function describeAbort(cause: AbortCause, timeoutMs: number, idleTimeoutMs: number): string {
  switch (cause) {
    case 'caller':
      return 'request cancelled';
    case 'timeout':
      return `no answer within ${timeoutMs} ms`;
    case 'first-token-timeout':
      return `no first token within ${timeoutMs} ms`;
    case 'idle-timeout':
      return `stream stalled for ${idleTimeoutMs} ms`;
  }
}

/**
 * Iterates `source`, aborting the attempt when a chunk takes longer than `idleTimeoutMs` to come.
 * The first chunk is bounded by whatever timer the caller armed before starting the request (the
 * first-token timeout); the idle timer only runs while waiting on the provider, never while the
 * consumer is busy with a chunk. The race matters: some SDK iterators do not notice an aborted
 * signal while they wait for bytes.
 */
export async function* withIdleTimeout<T>(
  source: AsyncIterable<T>,
  control: AttemptControl,
  idleTimeoutMs: number,
): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]();
  const aborted = control.whenAborted();
  aborted.catch(() => undefined);
  let first = true;
  try {
    while (true) {
      if (!first) control.arm('idle-timeout', idleTimeoutMs);
      first = false;
      const next = iterator.next();
      next.catch(() => undefined);
      const result = await Promise.race([next, aborted]);
      control.disarm();
      if (result.done) return;
      yield result.value;
    }
  } finally {
    control.disarm();
    // Closing the SDK iterator releases its socket. Not awaited: an iterator stuck on a dead
    // socket may never settle, and its complaints about the abort are expected.
    Promise.resolve(iterator.return?.()).catch(() => undefined);
  }
}
