import { type ChatResult, isProviderError, type ProviderAdapter, type RouteRequest } from '../providers';

/**
 * The design Switchboard started from, kept as the benchmark's baseline: a priority list of
 * providers and round-robin over each provider's keys. On a 429 or any other error it simply tries
 * the next key, then the next provider. No admission control (it does not count requests against
 * limits), no memory of cool-downs (a key that said "come back tomorrow" is asked again on the
 * next request), no circuit breaker.
 */
export interface NaiveProvider {
  readonly name: string;
  readonly adapter: ProviderAdapter;
  readonly keys: readonly string[];
}

export interface NaiveAttempt {
  readonly provider: string;
  readonly status: number | undefined;
  readonly kind: string;
}

export class NaiveRouterError extends Error {
  override readonly name = 'NaiveRouterError';

  constructor(readonly attempts: readonly NaiveAttempt[]) {
    super(`every key failed (${attempts.map((attempt) => `${attempt.provider}: ${attempt.kind}`).join('; ')})`);
  }
}

export class NaiveRouter {
  private readonly nextKey = new Map<string, number>();

  constructor(private readonly providers: readonly NaiveProvider[]) {}

  async complete(request: RouteRequest): Promise<ChatResult & { readonly provider: string }> {
    const attempts: NaiveAttempt[] = [];
    for (const provider of this.providers) {
      const first = this.nextKey.get(provider.name) ?? 0;
      this.nextKey.set(provider.name, (first + 1) % Math.max(1, provider.keys.length));
      for (let offset = 0; offset < provider.keys.length; offset++) {
        const key = provider.keys[(first + offset) % provider.keys.length];
        if (key === undefined) continue;
        try {
          const result = await provider.adapter.complete(
            {
              messages: request.messages,
              maxOutputTokens: request.maxOutputTokens,
              temperature: request.temperature,
              json: request.json,
              signal: request.signal,
            },
            key,
          );
          return { ...result, provider: provider.name };
        } catch (error) {
          attempts.push({
            provider: provider.name,
            status: isProviderError(error) ? error.status : undefined,
            kind: isProviderError(error) ? error.kind : 'unknown',
          });
        }
      }
    }
    throw new NaiveRouterError(attempts);
  }
}
