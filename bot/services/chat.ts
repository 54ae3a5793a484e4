import { type HistoryLimits, type HistoryStore, isStorageUnavailable } from '../../storage';
import {
  type ChatMessage,
  messageTokens,
  type RoutedStreamEvent,
  type Router,
  type RouteInfo,
  type Usage,
  withTokens,
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
  readonly text: string;
  readonly usage: Usage;
  readonly latencyMs: number;
  /** False when history could not be loaded or saved (the answer had no memory of earlier turns). */
  readonly historyAvailable: boolean;
}

export type ChatStreamEvent = RoutedStreamEvent | { readonly type: 'stored'; readonly reply: ChatReply };

export interface ExchangeOptions {
  readonly signal?: AbortSignal;
  /**
   * Identifies the exchange (the Telegram update it answers): handling the same update again, after
   * a crash, answers again but stores the exchange only once.
   */
  readonly exchangeId?: string;
}

export class ChatService {
  constructor(private readonly options: ChatServiceOptions) {}

  /** One answer to `text` in the conversation, stored with it when (and only when) it arrives. */
  async sendMessageWithHistory(
    conversationId: string,
    text: string,
    options: ExchangeOptions = {},
  ): Promise<ChatReply> {
    const { signal, exchangeId } = options;
    const { history, historyAvailable } = await this.loadHistory(conversationId);
    const userTurn: ChatMessage = { role: 'user', content: text };
    const result = await this.options.router.complete({
      messages: this.conversation(history, userTurn, Number.POSITIVE_INFINITY),
      fit: (budget) => this.conversation(history, userTurn, budget),
      maxOutputTokens: this.options.maxOutputTokens,
      ...(signal === undefined ? {} : { signal }),
    });
    const stored = historyAvailable && (await this.storeExchange(conversationId, userTurn, result.text, exchangeId));
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
    };
  }

  /**
   * One answer to a turn that is sent in one form and stored in another: a photo goes to a vision
   * model with its bytes, and history keeps a text stand-in with the photo's reference
   * (`MediaTurn`, bot/services/media.ts). Stored only when the answer arrives.
   */
  async sendTurnWithHistory(
    conversationId: string,
    turn: { readonly sent: ChatMessage; readonly stored: ChatMessage },
    options: ExchangeOptions = {},
  ): Promise<ChatReply> {
    const { signal, exchangeId } = options;
    const { history, historyAvailable } = await this.loadHistory(conversationId);
    const result = await this.options.router.complete({
      messages: this.conversation(history, turn.sent, Number.POSITIVE_INFINITY),
      fit: (budget) => this.conversation(history, turn.sent, budget),
      maxOutputTokens: this.options.maxOutputTokens,
      ...(signal === undefined ? {} : { signal }),
    });
    const stored = historyAvailable && (await this.storeExchange(conversationId, turn.stored, result.text, exchangeId));
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
    };
  }

  /**
   * The same, streamed: the router's events, then `stored` once the exchange is saved. A stream
   * that breaks off stores nothing, so a retry does not leave an orphan or a duplicate turn.
   */
  async *streamMessageWithHistory(
    conversationId: string,
    text: string,
    options: ExchangeOptions = {},
  ): AsyncGenerator<ChatStreamEvent> {
    const { signal, exchangeId } = options;
    const { history, historyAvailable } = await this.loadHistory(conversationId);
    const userTurn: ChatMessage = { role: 'user', content: text };
    let answer = '';
    let route: RouteInfo | undefined;
    for await (const event of this.options.router.stream({
      messages: this.conversation(history, userTurn, Number.POSITIVE_INFINITY),
      fit: (budget) => this.conversation(history, userTurn, budget),
      maxOutputTokens: this.options.maxOutputTokens,
      ...(signal === undefined ? {} : { signal }),
    })) {
      if (event.type === 'start') route = event;
      if (event.type === 'text-delta') answer += event.text;
      yield event;
      if (event.type === 'finish' && route !== undefined) {
        const stored = historyAvailable && (await this.storeExchange(conversationId, userTurn, answer, exchangeId));
        yield {
          type: 'stored',
          reply: {
            ...route,
            model: event.model,
            text: answer,
            usage: event.usage,
            latencyMs: event.latencyMs,
            historyAvailable: stored,
          },
        };
      }
    }
  }

  /** Messages stored in the conversation (a question and its answer are two). */
  async conversationLength(conversationId: string): Promise<number> {
    return (await this.options.history.load(conversationId)).length;
  }

  async resetConversation(conversationId: string): Promise<void> {
    await this.options.history.clear(conversationId);
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
  private conversation(history: readonly ChatMessage[], userTurn: ChatMessage, budgetTokens: number): ChatMessage[] {
    const system: ChatMessage = { role: 'system', content: this.options.systemPrompt };
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
