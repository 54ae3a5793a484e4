/**
 * Writes that may wait a few milliseconds, gathered and sent together: the items added during a
 * window (`windowMs`, or until `maxItems` are waiting) go to Redis in one `write`, so that a busy
 * process sends one command for dozens of answers rather than one or two per answer.
 *
 * Each `add` returns a promise that settles with the write of its batch: a failed write rejects
 * every item of it, so that the caller's fallback can take them. `flush` writes what is waiting at
 * once (a read that must see the latest writes, and shutdown, call it). The window's timer does
 * not keep the process alive: whoever stops the process flushes first.
 */
export interface WriteBatcherOptions {
  /** Longest an item waits (0: as soon as the event loop gets to it). */
  readonly windowMs: number;
  /** A batch this big is written at once, without waiting for its window to end. */
  readonly maxItems: number;
}

interface Batch<T> {
  readonly items: T[];
  readonly done: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

export class WriteBatcher<T> {
  private pending: Batch<T> | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Every write so far, settled (a flush waits for the ones in progress too). */
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly write: (items: readonly T[]) => Promise<void>,
    private readonly options: WriteBatcherOptions,
  ) {}

  add(item: T): Promise<void> {
    const batch = this.pending ?? this.open();
    batch.items.push(item);
    if (batch.items.length >= this.options.maxItems) void this.flush();
    return batch.done;
  }

  /** Writes the waiting items now; resolves when every write so far is done, failed or not. */
  flush(): Promise<void> {
    const batch = this.pending;
    if (batch === undefined) return this.writing;
    this.pending = undefined;
    clearTimeout(this.timer);
    this.timer = undefined;
    const write = this.write(batch.items).then(
      () => batch.resolve(),
      (error: unknown) => batch.reject(error),
    );
    this.writing = Promise.all([this.writing, write]).then(() => undefined);
    return this.writing;
  }

  private open(): Batch<T> {
    let resolve!: () => void;
    let reject!: (error: unknown) => void;
    const done = new Promise<void>((onResolve, onReject) => {
      resolve = onResolve;
      reject = onReject;
    });
    // Callers may drop the promise (fire-and-forget writes); a failure is theirs to see or not.
    done.catch(() => undefined);
    const batch: Batch<T> = { items: [], done, resolve, reject };
    this.pending = batch;
    this.timer = setTimeout(() => void this.flush(), this.options.windowMs);
    this.timer.unref();
    return batch;
  }
}
