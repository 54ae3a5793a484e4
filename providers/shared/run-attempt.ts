import type { AdapterOptions, ChatRequest, ProviderError } from '../types';
import { AttemptControl, describeAbort, withIdleTimeout } from './attempt';
import { transientFailure } from './classify';

/**
 * Runs one non-streamed attempt: one AbortController for the caller's signal and the attempt
 * timeout, released when the attempt ends whatever its outcome.
 */
export async function runAttempt<T>(
  request: ChatRequest,
  options: AdapterOptions,
  attempt: (control: AttemptControl) => Promise<T>,
): Promise<T> {
  const control = new AttemptControl(request.signal, request.onCancelable);
  control.arm('timeout', request.timeoutMs ?? options.timeoutMs);
  try {
    return await attempt(control);
  } finally {
    control.dispose();
  }
}

/**
 * Runs one streamed attempt, lazily (nothing is sent until the caller starts iterating). The
 * first-token timeout runs from the start; `idle` wraps the SDK's chunk iterator with the idle timer.
 */
export function streamAttempt<T>(
  request: ChatRequest,
  options: AdapterOptions,
  attempt: (control: AttemptControl, idle: <C>(source: AsyncIterable<C>) => AsyncIterable<C>) => AsyncGenerator<T>,
): AsyncIterable<T> {
  return {
    async *[Symbol.asyncIterator]() {
      const control = new AttemptControl(request.signal, request.onCancelable);
      control.arm('first-token-timeout', request.timeoutMs ?? options.timeoutMs);
      const idleTimeoutMs = request.idleTimeoutMs ?? options.idleTimeoutMs;
      try {
        yield* attempt(control, (source) => withIdleTimeout(source, control, idleTimeoutMs));
      } finally {
        // Ends the HTTP exchange too when the consumer stops early.
        if (control.abortCause === undefined) control.abort('caller');
        control.dispose();
      }
    },
  };
}

/**
 * The error of an attempt our own timers or the caller aborted (whatever the SDK threw about it),
 * or `undefined` when the attempt was not aborted.
 */
export function abortedAttemptError(
  provider: string,
  control: AttemptControl,
  request: ChatRequest,
  options: AdapterOptions,
): ProviderError | undefined {
  const cause = control.abortCause;
  if (cause === undefined) return undefined;
  return transientFailure(
    provider,
    describeAbort(cause, request.timeoutMs ?? options.timeoutMs, request.idleTimeoutMs ?? options.idleTimeoutMs),
  );
}
