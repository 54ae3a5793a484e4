/**
 * The provider port: one normalized request, one normalized result, one stream of typed events
 * and one error type. Every adapter in `providers/<name>/` speaks exactly this; nothing outside
 * an adapter's folder knows how a particular provider's wire format looks.
 *
 * This file has no dependencies on purpose: the router, storage and bot all import it.
 */

export type ChatRole = 'system' | 'user' | 'assistant';

/** What a request's parts can be: the text of its messages, and media sent with them. */
export type InputKind = 'text' | 'image' | 'audio' | 'pdf';
export type MediaKind = Exclude<InputKind, 'text'>;

/**
 * What a model is asked to do: answer a conversation (`chat`), or write down what is said in one
 * audio part (`transcription`).
 */
export type Operation = 'chat' | 'transcription';

/** Media sent with a message, as bytes: an adapter encodes them as its wire format wants. */
export interface MediaPart {
  readonly kind: MediaKind;
  /** `image/jpeg`, `audio/ogg`, `application/pdf` … */
  readonly mimeType: string;
  readonly data: Uint8Array;
  /** A file name for uploads that want one (`voice.ogg`). */
  readonly fileName?: string;
  /** Seconds of audio, when known (estimates only). */
  readonly durationSeconds?: number;
}

/**
 * What history keeps of media instead of its bytes: where to find it again (a Telegram `file_id`)
 * and its caption. The message's `content` holds a short text stand-in for it.
 */
export interface MediaReference {
  readonly kind: MediaKind;
  readonly fileId: string;
  readonly caption?: string;
  /** The file's name, for a document (a PDF's is shown to the model with its text). */
  readonly fileName?: string;
}

export interface ChatMessage {
  readonly role: ChatRole;
  readonly content: string;
  /** Media sent with this message (user turns only); never stored in history. */
  readonly media?: readonly MediaPart[];
  /** The media this message stood for when it was sent, kept with history in place of its bytes. */
  readonly reference?: MediaReference;
  /**
   * The router's token estimate of `content`, when already known: history stores it with each
   * message, so that a text is encoded once, not on every later request. Never sent to a provider.
   */
  readonly tokens?: number;
}

export interface ChatRequest {
  readonly messages: readonly ChatMessage[];
  /** Model id; the adapter's configured model when omitted. */
  readonly model?: string;
  readonly maxOutputTokens?: number;
  readonly temperature?: number;
  /** Ask for a JSON object as the whole answer (used by /translate). */
  readonly json?: boolean;
  /** Aborting it ends the attempt at once (the router's deadline, a user leaving). */
  readonly signal?: AbortSignal;
  /**
   * Lets the caller end this attempt alone later (a hedge that lost its race) without a signal of
   * its own: the adapter calls it once, as the attempt starts, with a function that ends the
   * attempt as an abort of `signal` would.
   */
  readonly onCancelable?: (cancel: () => void) => void;
  /**
   * Per-attempt timeout in ms. For `complete` it bounds the whole call; for `stream` it bounds the
   * time until the first text delta arrives.
   */
  readonly timeoutMs?: number;
  /** For `stream`: the longest allowed silence between two chunks once the stream has started. */
  readonly idleTimeoutMs?: number;
}

/** Normalized reason a generation ended; `raw` keeps what the provider said. */
export type FinishReason = 'stop' | 'length' | 'content_filter' | 'tool_calls' | 'other';

/** Token usage; a count the provider did not report is `undefined`, never a made-up 0. */
export interface Usage {
  readonly inputTokens: number | undefined;
  readonly outputTokens: number | undefined;
  readonly totalTokens: number | undefined;
}

/** One rate-limit window as a provider announced it in its response headers. */
export interface RateLimitWindow {
  readonly limit?: number;
  readonly remaining?: number;
  /** Milliseconds from when the response was received until this window resets. */
  readonly resetAfterMs?: number;
}

/**
 * What a response's rate-limit headers said. Windows are named by what they count and over which
 * period; `requests` is for providers that announce a request window without saying its length.
 */
export interface RateLimitSnapshot {
  readonly requestsPerMinute?: RateLimitWindow;
  readonly requestsPerDay?: RateLimitWindow;
  readonly tokensPerMinute?: RateLimitWindow;
  readonly tokensPerDay?: RateLimitWindow;
  readonly requests?: RateLimitWindow;
}

export interface ChatResult {
  readonly text: string;
  readonly finishReason: FinishReason;
  readonly rawFinishReason: string | undefined;
  readonly usage: Usage;
  /** The model that answered, as the provider reported it (or the one requested). */
  readonly model: string;
  /** Wall time of the call in ms, from sending to the full answer. */
  readonly latencyMs: number;
  readonly rateLimits: RateLimitSnapshot | undefined;
}

export interface TextDeltaEvent {
  readonly type: 'text-delta';
  readonly text: string;
}

export interface FinishEvent {
  readonly type: 'finish';
  readonly finishReason: FinishReason;
  readonly rawFinishReason: string | undefined;
  readonly usage: Usage;
  readonly model: string;
  /** From sending the request to the first text delta; `undefined` when no text came. */
  readonly timeToFirstTokenMs: number | undefined;
  readonly latencyMs: number;
  readonly rateLimits: RateLimitSnapshot | undefined;
}

/**
 * A stream yields text deltas and ends with exactly one `finish` event. A failure at any point
 * is thrown from the iterator as a `ProviderError`.
 */
export type StreamEvent = TextDeltaEvent | FinishEvent;

export type ProviderErrorKind =
  | 'auth'
  | 'rate_limited'
  | 'quota_exhausted'
  | 'transient'
  | 'context_too_long'
  | 'bad_request'
  | 'content_filtered';

export const PROVIDER_ERROR_KINDS: readonly ProviderErrorKind[] = [
  'auth',
  'rate_limited',
  'quota_exhausted',
  'transient',
  'context_too_long',
  'bad_request',
  'content_filtered',
];

export interface ProviderErrorOptions {
  readonly kind: ProviderErrorKind;
  readonly provider: string;
  readonly message: string;
  readonly status?: number;
  readonly retryAfterMs?: number;
  /** A spent quota the provider named as monthly: it returns at the next quota month, not the next day. */
  readonly quotaPeriod?: 'month';
  readonly rateLimits?: RateLimitSnapshot;
  readonly cause?: unknown;
}

/**
 * The only error an adapter throws. Recognise it with `isProviderError` (by name and kind), not
 * `instanceof`, so copies of this module in different bundles still agree.
 * The message never contains an API key: adapters redact the key before building it.
 */
export class ProviderError extends Error {
  override readonly name = 'ProviderError';
  readonly kind: ProviderErrorKind;
  readonly provider: string;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  readonly quotaPeriod: 'month' | undefined;
  readonly rateLimits: RateLimitSnapshot | undefined;

  constructor(options: ProviderErrorOptions) {
    super(options.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = options.kind;
    this.provider = options.provider;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
    this.quotaPeriod = options.quotaPeriod;
    this.rateLimits = options.rateLimits;
  }
}

export function isProviderError(value: unknown): value is ProviderError {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as { name?: unknown; kind?: unknown; provider?: unknown };
  return (
    candidate.name === 'ProviderError' &&
    typeof candidate.provider === 'string' &&
    PROVIDER_ERROR_KINDS.includes(candidate.kind as ProviderErrorKind)
  );
}

/** Known per-key limits of a provider's free tier; `undefined` means "no known limit". */
export interface KeyLimits {
  readonly requestsPerMinute?: number;
  readonly requestsPerDay?: number;
  readonly tokensPerMinute?: number;
  readonly tokensPerDay?: number;
  /**
   * Requests in a calendar month of the provider's reset zone (its quota day's month): a quota
   * that resets at the start of each month (docs/providers.md).
   */
  readonly requestsPerMonth?: number;
  /**
   * Tokens in a sliding hour (counted in one-minute buckets): for a transcription model, seconds of
   * audio, as a provider announces audio seconds per hour. Set by a descriptor's role defaults only.
   */
  readonly tokensPerHour?: number;
}

/** When a provider's daily quota resets: midnight in this IANA time zone. */
export type DailyResetZone = 'UTC' | 'America/Los_Angeles';

/** What a model offers (operations) and takes (inputs). */
export interface ModelCapabilities {
  readonly operations: readonly Operation[];
  readonly inputs: readonly InputKind[];
}

/** A text chat model: what a provider's chat model is unless its descriptor says more. */
export const TEXT_CHAT: ModelCapabilities = { operations: ['chat'], inputs: ['text'] };

/**
 * Roles a provider may configure a model of its own for, besides chat: `<P>_VISION_MODEL`,
 * `<P>_TRANSCRIPTION_MODEL`.
 */
export type ModelRole = 'vision' | 'transcription';
export const MODEL_ROLES: readonly ModelRole[] = ['vision', 'transcription'];

/** What a provider offers for one role: a default model and what a model in that role does. */
export interface RoleOffer extends ModelCapabilities {
  /**
   * The default model for the role; omitted when the provider's chat model plays it (the chat
   * model then gains these capabilities). An operator may still name another model.
   */
  readonly defaultModel?: string;
  /** Its context window (the chat model's when omitted). */
  readonly contextWindowTokens?: number;
  /**
   * Its per-key limits, when they are its own (the chat model's when omitted). For a model whose
   * only operation is transcription, tokens are seconds of audio (the router reserves a request's
   * audio length), which is what speech-to-text limits count.
   */
  readonly defaultLimits?: KeyLimits;
  /**
   * The provider counts this model's requests with its chat model's, per key or account (not per
   * model): its requests then take from the chat model's quota instead of a quota of their own.
   */
  readonly sharedQuota?: boolean;
}

/** What the rest of the system needs to know about a provider without knowing its wire format. */
export interface ProviderDescriptor {
  /** Lower-case id used in config (`PROVIDER_ORDER`) and stats. */
  readonly name: string;
  /** Prefix of its environment variables: `<envPrefix>_API_KEY`, `<envPrefix>_BASE_URL` … */
  readonly envPrefix: string;
  readonly defaultBaseUrl: string;
  /**
   * The wire protocol it speaks: `openai-chat` for OpenAI-style chat completions, otherwise a name
   * of the adapter's own. Test fakes choose the fake server's format by it.
   */
  readonly wireFormat: string;
  readonly defaultModel: string;
  /** Context window of the default model, in tokens (used to trim history). */
  readonly contextWindowTokens: number;
  readonly defaultLimits: KeyLimits;
  readonly dailyResetZone: DailyResetZone;
  /**
   * The provider counts refused requests (429, 401/403, 400) against its quota. Most do not, and
   * the router then frees a refused request's slot; see docs/providers.md.
   */
  readonly refusalsCounted?: boolean;
  /** What its chat model (`defaultModel`, `<P>_MODEL`) takes and offers; `TEXT_CHAT` when omitted. */
  readonly chatCapabilities?: ModelCapabilities;
  /** Models for other roles, where the provider has them (docs/providers.md lists the defaults). */
  readonly roles?: Readonly<Partial<Record<ModelRole, RoleOffer>>>;
  /** Builds the adapter. */
  readonly create: (options: AdapterOptions) => ProviderAdapter;
}

/**
 * One provider as configured, the same shape from configuration to router: what it is
 * (`descriptor`), where to reach it, its model, its keys and their per-key limits.
 */
export interface ProviderConfig {
  readonly descriptor: ProviderDescriptor;
  /** At least one for an enabled provider; de-duplicated. */
  readonly keys: readonly string[];
  /** Without a trailing slash. */
  readonly baseUrl: string;
  readonly model: string;
  /** Per-key limits: the descriptor's defaults with the operator's overrides applied. */
  readonly limits: KeyLimits;
  /** What `model` takes and offers; `TEXT_CHAT` when omitted. */
  readonly capabilities?: ModelCapabilities;
  /** Models of other roles that are not `model` (a vision or a transcription model). */
  readonly extraModels?: readonly ConfiguredModel[];
}

/**
 * A model of a configured provider beside its chat model: its own id, capabilities, context and
 * per-key limits (a provider's limits are per model), so the router gives it a quota of its own.
 */
export interface ConfiguredModel extends ModelCapabilities {
  readonly model: string;
  /** The roles it was configured for. */
  readonly roles: readonly ModelRole[];
  readonly contextWindowTokens: number;
  readonly limits: KeyLimits;
  /** Its requests count against the chat model's quota (see `RoleOffer.sharedQuota`). */
  readonly sharedQuota?: boolean;
}

export interface AdapterOptions {
  readonly baseUrl: string;
  readonly model: string;
  /** Default per-attempt timeout when a request does not carry one. */
  readonly timeoutMs: number;
  /** Default stream idle timeout when a request does not carry one. */
  readonly idleTimeoutMs: number;
  /** Clock for converting absolute reset times; tests pass a fake one. */
  readonly now?: () => number;
}

export interface ProviderAdapter {
  readonly name: string;
  readonly model: string;
  /** One request, one answer. Exactly one HTTP request per call: SDK retries are off. */
  complete(request: ChatRequest, apiKey: string): Promise<ChatResult>;
  /** One request, streamed. */
  stream(request: ChatRequest, apiKey: string): AsyncIterable<StreamEvent>;
  /**
   * What is said in the audio part of the request's last user message, as the answer's text (the
   * adapters whose models offer `transcription`). One HTTP request, like `complete`.
   */
  transcribe?(request: ChatRequest, apiKey: string): Promise<ChatResult>;
}
