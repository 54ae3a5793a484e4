import type { Chat, Message, MessageEntity, Update } from 'grammy/types';
import type { Params } from './body';
import type { TelegramFailure } from './errors';

/** The body of a Bot API answer. */
export type TelegramResponse =
  | { readonly ok: true; readonly result: unknown; readonly description?: string }
  | ({ readonly ok: false } & TelegramFailure);

/**
 * One recorded Bot API call. `status` is the HTTP status, or 'dropped' (the fake destroyed the
 * socket), or 'cancelled' (the client went away first, e.g. an aborted long poll).
 */
export interface ApiCall {
  readonly index: number;
  /** Canonical method name (the Bot API matches method names case-insensitively). */
  readonly method: string;
  readonly params: Params;
  /** When the request arrived (server clock). Calls are recorded, and numbered, when answered. */
  readonly time: number;
  readonly status: number | 'dropped' | 'cancelled';
  readonly response: TelegramResponse | undefined;
  readonly ok: boolean;
}

/** What a scripted failure does to the next calls of a method. */
export type Failure = TelegramFailure | DropConnection | RawHttpResponse;

/** Destroys the socket without answering; with `afterEffect` the method runs first (the answer is lost). */
export interface DropConnection {
  readonly drop: true;
  readonly afterEffect?: boolean;
}

/** A non-Bot-API answer, like a proxy's HTML error page. */
export interface RawHttpResponse {
  readonly status: number;
  readonly body: string;
  readonly contentType?: string;
}

/** A user who writes to the bot. */
export interface UserInput {
  readonly id: number;
  readonly first_name: string;
  readonly last_name?: string;
  readonly username?: string;
  readonly language_code?: string;
  readonly is_premium?: true;
}

/** A group the update comes from (negative id); private chat with the sender when absent. */
export interface GroupChatInput {
  readonly id: number;
  readonly title?: string;
  readonly type?: 'group' | 'supergroup';
  readonly username?: string;
}

export interface ChannelInput {
  readonly id: number;
  readonly title?: string;
  readonly username?: string;
}

/** Points at a stored message: a Telegram `Message`, an injected update's message, or a `StoredMessage`. */
export interface MessageRef {
  readonly message_id: number;
  readonly chat: { readonly id: number };
}

export interface IncomingOptions {
  readonly chat?: GroupChatInput;
  readonly reply_to_message?: MessageRef;
}

export type MessageKind = 'text' | 'sticker' | 'photo' | 'voice' | 'video_note' | 'video' | 'document';

/** A message as the chat shows it now. Snapshots: later edits do not change an object already returned. */
export interface StoredMessage {
  readonly message_id: number;
  readonly chat: Chat;
  /** Sent by the bot through the API (as opposed to injected as a user's message). */
  readonly fromBot: boolean;
  readonly kind: MessageKind;
  /** Visible text (the caption for media), after entity parsing and trimming. */
  readonly text: string;
  readonly entities: readonly MessageEntity[];
  /** The `text` parameter as sent, markup included. */
  readonly sourceText: string;
  readonly parseMode: string | undefined;
  readonly replyMarkup: unknown;
  readonly replyToMessageId: number | undefined;
  readonly date: number;
  readonly editDate: number | undefined;
  /** Visible texts before each edit, oldest first. */
  readonly previousTexts: readonly string[];
  readonly deleted: boolean;
  /** The Telegram `Message` object for it, as the Bot API returns it. */
  readonly message: Message;
}

export interface StoredDraft {
  readonly chatId: number;
  readonly draftId: number;
  readonly text: string;
  readonly entities: readonly MessageEntity[];
  readonly sourceText: string;
  readonly parseMode: string | undefined;
  readonly time: number;
}

export interface WebhookDelivery {
  readonly url: string;
  readonly update: Update;
  readonly status: number;
  readonly body: string;
}

export interface WaitOptions {
  readonly timeoutMs?: number;
  /** Also match calls already recorded from this index on (see `mark()`); by default only later calls. */
  readonly since?: number;
  /** Names what is awaited, for the timeout message. */
  readonly description?: string;
}

/** A document the bot sent (sendDocument with an uploaded file), with its bytes. */
export interface SentDocument {
  readonly chatId: number;
  readonly messageId: number;
  readonly fileName: string;
  readonly mimeType: string | undefined;
  readonly caption: string;
  readonly content: Buffer;
}
