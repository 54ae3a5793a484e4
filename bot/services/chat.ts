import { type HistoryLimits, type HistoryStore, isStorageUnavailable } from '../../storage';
import { createHash } from 'node:crypto';
import {
  type ChatMessage,
  type FinishEvent,
  type FinishReason,
  type MediaReference,
  messageTokens,
  type RoutedStreamEvent,
  type RoutedResult,
  type RoutePreference,
  type RouteRequest,
  type Router,
  type RouteInfo,
  type Usage,
  withTokens,
  isRouterError,
} from '../../providers';

/**
 * Chat with memory: `sendMessageWithHistory` (load the conversation, fit it to the model, route,
 * store the exchange), named as in the system this project replaces, and its streamed twin.
 */
export interface ChatServiceOptions {
  readonly router: Router;
  readonly history: HistoryStore;
  readonly historyLimits: HistoryLimits;
  readonly systemPrompt: string;
  /** Output allowance per answer. */
  readonly maxOutputTokens: number;
  /** Called when history cannot be read or written (Redis away); the answer goes on without it. */
  readonly onHistoryUnavailable?: (error: unknown) => void;
}

export interface ChatReply extends RouteInfo {
  /** The answer, or for a continued one the part added. */
  readonly text: string;
  readonly usage: Usage;
  readonly latencyMs: number;
  /** False when history could not be loaded or saved (the answer had no memory of earlier turns). */
  readonly historyAvailable: boolean;
  /** Why the answer ended: `length` when it stopped at the output limit (it can be continued). */
  readonly finishReason: FinishReason;
  /** The user stopped it while it streamed: `text` is what had arrived. */
  readonly cutOff: boolean;
  /**
   * Names the answer as stored (for a continued one, the whole answer): `redo` accepts it while
   * this answer is still the conversation's last one.
   */
  readonly answerTag: string;
}

export type ChatStreamEvent = RoutedStreamEvent | { readonly type: 'stored'; readonly reply: ChatReply };

export interface ExchangeOptions {
  readonly signal?: AbortSignal;
  /**
   * Identifies the exchange (the Telegram update it answers): handling the same update again, after
   * a crash, answers again but stores the exchange only once.
   */
  readonly exchangeId?: string;
  /** This request's system prompt (the asking user's settings); the service's own when omitted. */
  readonly systemPrompt?: string;
  /** Providers to try first (the asking user's model preference), then ordinary routing. */
  readonly prefer?: readonly RoutePreference[];
  /** Providers to try last (a regenerated answer goes, when it can, to another provider than before). */
  readonly avoid?: readonly string[];
  /**
   * Stops a streamed answer: the provider request is aborted at once, and what arrived is kept,
   * stored marked as cut off, and reported as the reply (`cutOff`).
   */
  readonly stop?: AbortSignal;
  /**
   * A text question asked again with the file of a photo or PDF kept in history (fetched again
   * from Telegram): the photo's image for a vision model, the PDF inline for a model that takes
   * PDFs (its text as the fallback) or its text; `undefined` when the file can no longer be
   * fetched or no model of the pool could take it. Given, a text message that follows a photo or
   * PDF (`RECALL_WINDOW`) is asked with that file; without it, or when the file is gone, the
   * message goes with history's text stand-in only.
   */
  readonly recall?: (reference: MediaReference, question: ChatMessage) => Promise<SentTurn | undefined>;
  /**
   * Rebuilds, for a regenerated answer, the turn that was sent for a stored media turn (a photo, a
   * PDF: its file fetched again), or `undefined` when it cannot (then the stored stand-in is sent).
   * Without it a regenerated media turn goes as its stand-in.
   */
  readonly resend?: (stored: ChatMessage) => Promise<SentTurn | undefined>;
}

/**
 * A turn as it is sent, and what to send instead when no model that takes its media answered
 * (`fallback`: a PDF's extracted text, for every chat model of the pool).
 */
export interface SentTurn {
  readonly sent: ChatMessage;
  /** Given the failure of `sent`: the turn to send instead, or a throw (that failure, or a better reason). */
  readonly fallback?: (failure: unknown) => Promise<ChatMessage>;
}

/**
 * Whether a failure of a turn with media is worth its text-only fallback: every model that takes
 * the media was out of quota, failing, too small or refused the file. Not when a provider declined
 * the content, nor when the request was cancelled or stopped.
 */
export function fallsBackToText(error: unknown): boolean {
  return (
    isRouterError(error) &&
    error.kind !== 'content_filtered' &&
    error.kind !== 'cancelled' &&
    error.kind !== 'interrupted'
  );
}

/** How many stored messages back a text turn still counts as a follow-up about a photo or PDF (two exchanges). */
export const RECALL_WINDOW = 4;

/**
 * The reference of the latest photo or PDF among the last `RECALL_WINDOW` stored messages, if any
 * (a voice note is kept as its transcript: there is nothing to fetch again).
 */
export function recentMedia(history: readonly ChatMessage[]): MediaReference | undefined {
  return history
    .slice(-RECALL_WINDOW)
    .findLast(
      (message) =>
        message.role === 'user' && (message.reference?.kind === 'image' || message.reference?.kind === 'pdf'),
    )?.reference;
}

/** What to answer: a new message, or the last answer again (`regenerate`) or further (`continue`). */
export type Turn =
  | { readonly type: 'message'; readonly text: string }
  /**
   * A message sent in one form and stored in another (a photo: its bytes sent, a stand-in stored),
   * with what to send instead when no model that takes its media answers (`SentTurn.fallback`).
   */
  | ({ readonly type: 'media'; readonly stored: ChatMessage } & SentTurn)
  | { readonly type: 'regenerate' | 'continue'; readonly answerTag: string };

/** A regenerate or continue of an answer that is no longer the conversation's last one. */
export class StaleAnswerError extends Error {
  override readonly name = 'StaleAnswerError';
}

export function isStaleAnswer(error: unknown): error is StaleAnswerError {
  return error instanceof Error && error.name === 'StaleAnswerError';
}

/** Stored after an answer the user stopped, so the model (and an export) knows it is incomplete. */
export const CUT_OFF_MARK = '[cut off: the user stopped this answer here]';

/** The user turn that asks for more of an answer that stopped at the length limit (not stored). */
const CONTINUE_PROMPT =
  'Continue your last answer exactly where it stopped. Do not repeat anything, do not add an introduction.';

/** An answer's tag: a short hash of its text (callback data holds at most 64 bytes). */
export function answerTagOf(answer: string): string {
  return createHash('sha256').update(answer).digest('base64url').slice(0, 12);
}

/** One request planned: what the model sees, and how its answer is stored. */
interface Plan {
  readonly history: readonly ChatMessage[];
  readonly userTurn: ChatMessage;
  /** The turn to send instead when `userTurn`, with media, found no model to answer it. */
  readonly fallback?: (failure: unknown) => Promise<ChatMessage>;
  readonly historyAvailable: boolean;
  /** Stores the answer; resolves with whether it was stored and the stored answer's text. */
  store(answer: string): Promise<{ stored: boolean; storedAnswer: string }>;
}

export class ChatService {
  constructor(private readonly options: ChatServiceOptions) {}

  /** One answer to `text` in the conversation, stored with it when (and only when) it arrives. */
  sendMessageWithHistory(conversationId: string, text: string, options: ExchangeOptions = {}): Promise<ChatReply> {
    return this.send(conversationId, { type: 'message', text }, options);
  }

  /**
   * The same, streamed: the router's events, then `stored` once the exchange is saved. A stream
   * that breaks off stores nothing, so a retry does not leave an orphan or a duplicate turn; one
   * the user stops is stored as far as it came, marked as cut off.
   */
  streamMessageWithHistory(
    conversationId: string,
    text: string,
    options: ExchangeOptions = {},
  ): AsyncGenerator<ChatStreamEvent> {
    return this.stream(conversationId, { type: 'message', text }, options);
  }

  /**
   * One answer to a turn: a new message, or the last answer again or further. A regenerated
   * answer replaces the previous one in history (asked, when possible, of another provider); a
   * continued one is appended to it. Throws `StaleAnswerError` when `answerTag` no longer names
   * the conversation's last answer, before any provider is asked.
   */
  async send(conversationId: string, turn: Turn, options: ExchangeOptions = {}): Promise<ChatReply> {
    const plan = await this.plan(conversationId, turn, options);
    const systemPrompt = options.systemPrompt ?? this.options.systemPrompt;
    let result: RoutedResult;
    try {
      result = await this.options.router.complete(this.request(systemPrompt, plan, plan.userTurn, options));
    } catch (error) {
      if (plan.fallback === undefined || !fallsBackToText(error)) throw error;
      const fallback = await plan.fallback(error);
      result = await this.options.router.complete(this.request(systemPrompt, plan, fallback, options));
    }
    const { stored, storedAnswer } = await plan.store(result.text);
    return {
      text: result.text,
      usage: result.usage,
      latencyMs: result.latencyMs,
      provider: result.provider,
      model: result.model,
      keyId: result.keyId,
      maskedKey: result.maskedKey,
      failedAttempts: result.failedAttempts,
      historyAvailable: stored,
      finishReason: result.finishReason,
      cutOff: false,
      answerTag: answerTagOf(storedAnswer),
    };
  }

  /**
   * One answer to a turn that is sent in one form and stored in another: a photo goes to a vision
   * model with its bytes, and history keeps a text stand-in with the photo's reference
   * (`MediaTurn`, bot/services/media.ts). Stored only when the answer arrives.
   */
  sendTurnWithHistory(
    conversationId: string,
    turn: SentTurn & { readonly stored: ChatMessage },
    options: ExchangeOptions = {},
  ): Promise<ChatReply> {
    return this.send(conversationId, { type: 'media', ...turn }, options);
  }

  /** `send`, streamed (see `streamMessageWithHistory`). */
  async *stream(conversationId: string, turn: Turn, options: ExchangeOptions = {}): AsyncGenerator<ChatStreamEvent> {
    const plan = await this.plan(conversationId, turn, options);
    const systemPrompt = options.systemPrompt ?? this.options.systemPrompt;
    const { stop } = options;
    const signals = [options.signal, stop].filter((signal): signal is AbortSignal => signal !== undefined);
    const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
    let answer = '';
    let route: RouteInfo | undefined;
    const started = performance.now();
    const reply = async (finish: FinishEvent | undefined): Promise<ChatReply> => {
      const cutOff = finish === undefined;
      const { stored, storedAnswer } = await plan.store(
        cutOff ? `${answer.trimEnd()}\n\n${CUT_OFF_MARK}`.trimStart() : answer,
      );
      return {
        provider: route?.provider ?? '',
        keyId: route?.keyId ?? '',
        maskedKey: route?.maskedKey ?? '',
        failedAttempts: route?.failedAttempts ?? [],
        model: finish?.model ?? route?.model ?? '',
        text: answer,
        usage: finish?.usage ?? { inputTokens: undefined, outputTokens: undefined, totalTokens: undefined },
        latencyMs: finish?.latencyMs ?? performance.now() - started,
        historyAvailable: stored,
        finishReason: finish?.finishReason ?? 'other',
        cutOff,
        answerTag: answerTagOf(storedAnswer),
      };
    };
    let userTurn = plan.userTurn;
    // At most twice: the turn, then its text-only fallback when nothing had started.
    for (let tries = 0; tries < 2; tries += 1) {
      try {
        for await (const event of this.options.router.stream(
          this.request(systemPrompt, plan, userTurn, { ...options, ...(signal === undefined ? {} : { signal }) }),
        )) {
          if (stop?.aborted) break;
          if (event.type === 'start') route = event;
          if (event.type === 'text-delta') answer += event.text;
          yield event;
          if (event.type === 'finish' && route !== undefined) {
            yield { type: 'stored', reply: await reply(event) };
            return;
          }
        }
        break;
      } catch (error) {
        if (stop?.aborted) break;
        if (tries > 0 || route !== undefined || plan.fallback === undefined || !fallsBackToText(error)) throw error;
        userTurn = await plan.fallback(error);
      }
    }
    // Only a stop ends the loop without a finish.
    if (stop?.aborted) yield { type: 'stored', reply: await reply(undefined) };
  }

  /** The router request of a turn: system prompt, history fitted to each model, the turn. */
  private request(systemPrompt: string, plan: Plan, userTurn: ChatMessage, options: ExchangeOptions): RouteRequest {
    return {
      messages: this.conversation(systemPrompt, plan.history, userTurn, Number.POSITIVE_INFINITY),
      fit: (budget) => this.conversation(systemPrompt, plan.history, userTurn, budget),
      maxOutputTokens: this.options.maxOutputTokens,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      ...(options.prefer === undefined ? {} : { prefer: options.prefer }),
      ...(options.avoid === undefined ? {} : { avoid: options.avoid }),
    };
  }

  /** Messages stored in the conversation (a question and its answer are two). */
  async conversationLength(conversationId: string): Promise<number> {
    return (await this.options.history.load(conversationId)).length;
  }

  async resetConversation(conversationId: string): Promise<void> {
    await this.options.history.clear(conversationId);
  }

  /** The request a turn makes and how its answer is stored. */
  private async plan(conversationId: string, turn: Turn, options: ExchangeOptions): Promise<Plan> {
    const { exchangeId } = options;
    if (turn.type === 'message' || turn.type === 'media') {
      const { history, historyAvailable } = await this.loadHistory(conversationId);
      const storedTurn: ChatMessage = turn.type === 'media' ? turn.stored : { role: 'user', content: turn.text };
      const sent: SentTurn =
        turn.type === 'media' ? turn : await this.withRecalledMedia(storedTurn, history, options.recall);
      return {
        history,
        userTurn: sent.sent,
        ...(sent.fallback === undefined ? {} : { fallback: sent.fallback }),
        historyAvailable,
        store: async (answer) => ({
          stored: historyAvailable && (await this.storeExchange(conversationId, storedTurn, answer, exchangeId)),
          storedAnswer: answer,
        }),
      };
    }
    // A redo needs the conversation as stored: without history there is nothing to redo.
    const history = await this.options.history.load(conversationId);
    const question = history.at(-2);
    const previous = history.at(-1);
    if (
      question?.role !== 'user' ||
      previous?.role !== 'assistant' ||
      answerTagOf(previous.content) !== turn.answerTag
    ) {
      throw new StaleAnswerError('that answer is no longer the last one of the conversation');
    }
    if (turn.type === 'regenerate') {
      const earlier = history.slice(0, -2);
      const again = await this.sentAgain(question, earlier, options);
      return {
        history: earlier,
        userTurn: again.sent,
        ...(again.fallback === undefined ? {} : { fallback: again.fallback }),
        historyAvailable: true,
        store: async (answer) => ({
          stored: await this.replace(
            conversationId,
            [question, previous],
            [question, withTokens({ role: 'assistant', content: answer })],
          ),
          storedAnswer: answer,
        }),
      };
    }
    return {
      history,
      userTurn: { role: 'user', content: CONTINUE_PROMPT },
      historyAvailable: true,
      store: async (answer) => {
        const whole = `${previous.content}${answer}`;
        return {
          stored: await this.replace(conversationId, [previous], [withTokens({ role: 'assistant', content: whole })]),
          storedAnswer: whole,
        };
      },
    };
  }

  /**
   * A stored question as it was sent, for a regenerated answer: a media turn rebuilt with its file
   * fetched again (`resend`), a text turn that followed a photo or PDF with that file again (`recall`),
   * else the question as stored.
   */
  private async sentAgain(
    question: ChatMessage,
    earlier: readonly ChatMessage[],
    options: ExchangeOptions,
  ): Promise<SentTurn> {
    if (question.reference !== undefined) {
      return (options.resend === undefined ? undefined : await options.resend(question)) ?? { sent: question };
    }
    return this.withRecalledMedia(question, earlier, options.recall);
  }

  /**
   * A text turn that follows a photo or PDF, asked with that file fetched again when it can be and
   * a model of the pool can take it (`recall`); else the turn as it is (history's stand-in still
   * tells a text-only model about the file).
   */
  private async withRecalledMedia(
    turn: ChatMessage,
    history: readonly ChatMessage[],
    recall: ExchangeOptions['recall'],
  ): Promise<SentTurn> {
    const reference = recall === undefined ? undefined : recentMedia(history);
    if (recall === undefined || reference === undefined) return { sent: turn };
    return (await recall(reference, turn)) ?? { sent: turn };
  }

  /**
   * Whether history is usable. A conversation that moved on meanwhile is left as it is (the
   * answer is still shown; its buttons then find it is not the last one).
   */
  private async replace(
    conversationId: string,
    expected: readonly ChatMessage[],
    replacement: readonly ChatMessage[],
  ): Promise<boolean> {
    try {
      await this.options.history.replaceLast(conversationId, expected, replacement, this.options.historyLimits);
      return true;
    } catch (error) {
      if (!isStorageUnavailable(error)) throw error;
      this.options.onHistoryUnavailable?.(error);
      return false;
    }
  }

  /** The tag of the conversation's last answer (`undefined` when it does not end with one). */
  async lastAnswerTag(conversationId: string): Promise<string | undefined> {
    const last = (await this.options.history.load(conversationId)).at(-1);
    return last?.role === 'assistant' ? answerTagOf(last.content) : undefined;
  }

  /** The conversation as stored (for /export). */
  async conversationMessages(conversationId: string): Promise<ChatMessage[]> {
    return this.options.history.load(conversationId);
  }

  private async loadHistory(conversationId: string): Promise<{ history: ChatMessage[]; historyAvailable: boolean }> {
    try {
      return { history: await this.options.history.load(conversationId), historyAvailable: true };
    } catch (error) {
      if (!isStorageUnavailable(error)) throw error;
      this.options.onHistoryUnavailable?.(error);
      return { history: [], historyAvailable: false };
    }
  }

  /** Whether history is usable (an exchange already stored under `exchangeId` counts as stored). */
  private async storeExchange(
    conversationId: string,
    userTurn: ChatMessage,
    answer: string,
    exchangeId: string | undefined,
  ): Promise<boolean> {
    try {
      await this.options.history.append(
        conversationId,
        // Stored with their token counts, so that later requests need not encode them again.
        [withTokens(userTurn), withTokens({ role: 'assistant', content: answer })],
        this.options.historyLimits,
        exchangeId,
      );
      return true;
    } catch (error) {
      if (!isStorageUnavailable(error)) throw error;
      this.options.onHistoryUnavailable?.(error);
      return false;
    }
  }

  /**
   * System prompt + as much recent history as fits `budgetTokens` + the new user turn. History is
   * dropped oldest pair first; the system prompt and the new turn always stay.
   */
  private conversation(
    systemPrompt: string,
    history: readonly ChatMessage[],
    userTurn: ChatMessage,
    budgetTokens: number,
  ): ChatMessage[] {
    const system: ChatMessage = { role: 'system', content: systemPrompt };
    if (!Number.isFinite(budgetTokens)) return [system, ...history, userTurn];
    let used = messageTokens(system) + messageTokens(userTurn) + 16;
    let start = history.length;
    while (start >= 2) {
      const pairTokens = messageTokens(history[start - 1]!) + messageTokens(history[start - 2]!) + 12;
      if (used + pairTokens > budgetTokens) break;
      used += pairTokens;
      start -= 2;
    }
    return [system, ...history.slice(start), userTurn];
  }
}
