import type { ProviderErrorKind } from '../types';

/** One failed attempt, as the final error reports it (the key only masked). */
export interface FailedAttempt {
  readonly provider: string;
  readonly maskedKey: string;
  readonly kind: ProviderErrorKind;
  readonly status: number | undefined;
  readonly message: string;
}

/**
 * Why the router gave up on a request:
 * - `no_capacity`: every usable key is cooling down or out of quota (`retryAfterMs` says when one frees up);
 * - `unavailable`: the providers that could take it failed or are switched off by their breakers;
 * - `context_too_long`: the conversation does not fit any provider, even shortened;
 * - `content_filtered`: a provider refused it for safety (other providers are not tried);
 * - `deadline`: the request's overall deadline passed;
 * - `interrupted`: a streamed answer failed after part of it was delivered;
 * - `cancelled`: the caller aborted;
 * - `no_providers`: no provider has a key configured;
 * - `no_capability`: no configured model can take every part of the request (an image, audio, a
 *   PDF) or offers its operation (transcription); nothing was sent.
 */
export type RouterErrorKind =
  | 'no_capacity'
  | 'unavailable'
  | 'context_too_long'
  | 'content_filtered'
  | 'deadline'
  | 'interrupted'
  | 'cancelled'
  | 'no_providers'
  | 'no_capability';

export class RouterError extends Error {
  override readonly name = 'RouterError';

  constructor(
    readonly kind: RouterErrorKind,
    readonly attempts: readonly FailedAttempt[],
    readonly retryAfterMs: number | undefined,
    summary: string,
  ) {
    super(`${summary}${describeAttempts(attempts)}`);
  }
}

export function isRouterError(value: unknown): value is RouterError {
  return value instanceof Error && value.name === 'RouterError' && typeof (value as RouterError).kind === 'string';
}

function describeAttempts(attempts: readonly FailedAttempt[]): string {
  if (attempts.length === 0) return '';
  const tried = attempts.map((attempt) => `${attempt.provider} ${attempt.maskedKey}: ${attempt.kind}`).join('; ');
  return ` (tried ${tried})`;
}
