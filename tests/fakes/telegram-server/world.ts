import type { BotCommand, Chat, Message, MessageEntity, Update, User, UserFromGetMe } from 'grammy/types';
import { integerParam, type Params } from './body';
import { fail, telegramErrors } from './errors';
import type { LengthUnit } from './text';
import type { FileRecord } from './incoming';
import type { MessageKind, SentDocument, StoredDraft, StoredMessage } from './types';

export interface WorldOptions {
  readonly bot: UserFromGetMe;
  readonly now: () => number;
  readonly lengthUnit: LengthUnit;
  readonly knownChatsOnly: boolean;
  readonly allowHttpWebhooks: boolean;
  readonly firstUpdateId: number;
}

interface MessageRecord {
  message: Message;
  fromBot: boolean;
  kind: MessageKind;
  sourceText: string;
  parseMode: string | undefined;
  previousTexts: string[];
  deleted: boolean;
  reactions: unknown[];
}

export interface ChatState {
  readonly chat: Chat;
  nextMessageId: number;
  readonly messages: Map<number, MessageRecord>;
  readonly drafts: StoredDraft[];
  readonly actions: { readonly action: string; readonly time: number }[];
  blocked: boolean;
}

export interface WebhookState {
  readonly url: string;
  readonly secretToken: string | undefined;
  readonly maxConnections: number;
  readonly ipAddress: string | undefined;
  readonly allowedUpdates: readonly string[] | undefined;
}

export interface NewMessage {
  readonly from?: User;
  readonly senderChat?: Chat;
  readonly kind: MessageKind;
  readonly text: string;
  readonly entities: readonly MessageEntity[];
  readonly sourceText: string;
  readonly parseMode: string | undefined;
  readonly replyMarkup?: unknown;
  readonly replyTo?: Message;
  /** Extra fields for media messages (sticker, photo …). */
  readonly media?: Partial<Message>;
}

/** Update types Telegram leaves out when `allowed_updates` is empty or was never set. */
const OPT_IN_UPDATE_TYPES = new Set(['chat_member', 'message_reaction', 'message_reaction_count']);

/** Everything the fake Bot API knows: chats and their messages, drafts, commands, webhook, pending updates. */
export class TelegramWorld {
  readonly chats = new Map<number, ChatState>();
  readonly commands = new Map<string, BotCommand[]>();
  readonly callbackQueries = new Map<string, { answered: boolean; params?: Params }>();
  /** Every document the bot sent, in order, with its bytes. */
  readonly documents: SentDocument[] = [];
  /** Files users sent, by file_id, and by file_path for the download path. */
  readonly files = new Map<string, FileRecord>();
  readonly filesByPath = new Map<string, FileRecord>();
  webhook: WebhookState | undefined;
  /** Updates not yet confirmed, in update_id order. */
  updates: Update[] = [];
  /** Highest offset the bot confirmed with getUpdates (updates below it are gone); 0 before any. */
  confirmedOffset = 0;
  /** Last `allowed_updates` the bot set (empty = Telegram's default set). */
  allowedUpdates: readonly string[] = [];
  nextUpdateId: number;
  private nextCallbackId = 1;

  constructor(readonly options: WorldOptions) {
    this.nextUpdateId = options.firstUpdateId;
  }

  addFiles(files: readonly FileRecord[]): void {
    for (const file of files) {
      this.files.set(file.file_id, file);
      this.filesByPath.set(file.file_path, file);
    }
  }

  get bot(): UserFromGetMe {
    return this.options.bot;
  }

  get botUser(): User {
    const { id, is_bot, first_name, username } = this.options.bot;
    return { id, is_bot, first_name, username };
  }

  unixTime(): number {
    return Math.floor(this.options.now() / 1000);
  }

  ensureChat(chat: Chat): ChatState {
    const existing = this.chats.get(chat.id);
    if (existing !== undefined) return existing;
    const state: ChatState = { chat, nextMessageId: 1, messages: new Map(), drafts: [], actions: [], blocked: false };
    this.chats.set(chat.id, state);
    return state;
  }

  /** The chat named by `chat_id` (an id or an @username); unknown chats are "chat not found". */
  resolveChat(params: Params, field = 'chat_id'): ChatState {
    const raw = params[field];
    if (raw === undefined || raw === null || raw === '') fail(telegramErrors.chatIdEmpty());
    if (typeof raw === 'string' && raw.startsWith('@')) {
      const username = raw.slice(1).toLowerCase();
      for (const state of this.chats.values()) {
        if ('username' in state.chat && state.chat.username?.toLowerCase() === username) return state;
      }
      fail(telegramErrors.chatNotFound());
    }
    const id = integerParam(params, field);
    if (id === undefined || id === 0) fail(telegramErrors.chatNotFound());
    const known = this.chats.get(id);
    if (known !== undefined) return known;
    if (this.options.knownChatsOnly) fail(telegramErrors.chatNotFound());
    return this.ensureChat(guessChat(id));
  }

  /** A chat the bot may write to: a user who blocked it answers 403. */
  writableChat(params: Params): ChatState {
    const state = this.resolveChat(params);
    if (state.blocked) fail(telegramErrors.botBlocked());
    return state;
  }

  /** The message a reply points at (reply_parameters, or the older reply_to_message_id). */
  resolveReplyTarget(state: ChatState, params: Params): Message | undefined {
    const replyParameters = params.reply_parameters;
    let messageId: number | undefined;
    let target = state;
    let allowMissing = params.allow_sending_without_reply === true;
    if (typeof replyParameters === 'object' && replyParameters !== null) {
      const reply = replyParameters as Params;
      messageId = integerParam(reply, 'message_id');
      if (reply.chat_id !== undefined) target = this.resolveChat(reply);
      allowMissing = reply.allow_sending_without_reply === true;
    } else {
      messageId = integerParam(params, 'reply_to_message_id');
    }
    if (messageId === undefined) return undefined;
    const record = target.messages.get(messageId);
    if (record === undefined || record.deleted) {
      if (allowMissing) return undefined;
      fail(telegramErrors.messageToReplyNotFound());
    }
    return record.message;
  }

  addMessage(state: ChatState, input: NewMessage): MessageRecord {
    const messageId = state.nextMessageId++;
    const hasEntities = input.entities.length > 0;
    const message = {
      message_id: messageId,
      ...(input.from ? { from: input.from } : {}),
      ...(input.senderChat ? { sender_chat: input.senderChat } : {}),
      chat: state.chat,
      date: this.unixTime(),
      ...(input.replyTo ? { reply_to_message: withoutReply(input.replyTo) } : {}),
      ...(input.kind === 'text'
        ? { text: input.text, ...(hasEntities ? { entities: [...input.entities] } : {}) }
        : input.text !== ''
          ? { caption: input.text, ...(hasEntities ? { caption_entities: [...input.entities] } : {}) }
          : {}),
      ...input.media,
      ...(input.replyMarkup !== undefined ? { reply_markup: input.replyMarkup } : {}),
    } as Message;
    const record: MessageRecord = {
      message,
      fromBot: input.from?.id === this.bot.id,
      kind: input.kind,
      sourceText: input.sourceText,
      parseMode: input.parseMode,
      previousTexts: [],
      deleted: false,
      reactions: [],
    };
    state.messages.set(messageId, record);
    return record;
  }

  findMessage(chatId: number, messageId: number): MessageRecord | undefined {
    return this.chats.get(chatId)?.messages.get(messageId);
  }

  snapshot(record: MessageRecord): StoredMessage {
    const message = structuredClone(record.message);
    return {
      message_id: message.message_id,
      chat: message.chat,
      fromBot: record.fromBot,
      kind: record.kind,
      text: message.text ?? message.caption ?? '',
      entities: message.entities ?? message.caption_entities ?? [],
      sourceText: record.sourceText,
      parseMode: record.parseMode,
      replyMarkup: message.reply_markup,
      replyToMessageId: message.reply_to_message?.message_id,
      date: message.date,
      editDate: message.edit_date,
      previousTexts: [...record.previousTexts],
      deleted: record.deleted,
      message,
    };
  }

  messagesOf(chatId: number): MessageRecord[] {
    const state = this.chats.get(chatId);
    return state === undefined ? [] : [...state.messages.values()];
  }

  newCallbackQueryId(): string {
    const id = `${this.bot.id}${String(this.nextCallbackId++).padStart(6, '0')}`;
    this.callbackQueries.set(id, { answered: false });
    return id;
  }

  /** Assigns an update_id (unless the update has one) and queues it for getUpdates. */
  enqueue(update: Omit<Update, 'update_id'> & { update_id?: number }): Update {
    const updateId = update.update_id ?? this.nextUpdateId;
    this.nextUpdateId = Math.max(this.nextUpdateId, updateId + 1);
    const complete = { ...update, update_id: updateId } as Update;
    const last = this.updates.at(-1);
    this.updates.push(complete);
    // Usually appended in order; sorting every time would make a burst of n updates cost O(n²).
    if (last !== undefined && last.update_id > updateId) this.updates.sort((a, b) => a.update_id - b.update_id);
    return complete;
  }

  /** getUpdates' confirmation: a positive offset forgets every update below it; a negative one keeps only the last -offset. */
  confirm(offset: number | undefined): void {
    if (offset === undefined || offset === 0) return;
    if (offset > 0) {
      // `updates` is sorted: drop the confirmed head without scanning the rest.
      let confirmed = 0;
      while (confirmed < this.updates.length && this.updates[confirmed]!.update_id < offset) confirmed++;
      if (confirmed > 0) this.updates = this.updates.slice(confirmed);
      this.confirmedOffset = Math.max(this.confirmedOffset, offset);
      return;
    }
    const kept = this.updates.slice(offset);
    const firstKept = kept[0]?.update_id ?? this.nextUpdateId;
    this.updates = kept;
    this.confirmedOffset = Math.max(this.confirmedOffset, firstKept);
  }

  /** The updates a getUpdates call would return now. */
  deliverable(limit: number): Update[] {
    const ready: Update[] = [];
    for (const update of this.updates) {
      if (ready.length >= limit) break;
      if (this.isAllowed(update)) ready.push(update);
    }
    return ready;
  }

  dropPendingUpdates(): void {
    const last = this.updates.at(-1);
    if (last !== undefined) this.confirmedOffset = Math.max(this.confirmedOffset, last.update_id + 1);
    this.updates = [];
  }

  private isAllowed(update: Update): boolean {
    const type = Object.keys(update).find((key) => key !== 'update_id') ?? '';
    const allowed = this.webhook?.allowedUpdates ?? this.allowedUpdates;
    return allowed.length === 0 ? !OPT_IN_UPDATE_TYPES.has(type) : allowed.includes(type);
  }
}

/** A reply carries the replied-to message without its own reply (Telegram does not nest them). */
function withoutReply(message: Message): Message {
  const { reply_to_message: _nested, ...rest } = message;
  return rest as Message;
}

/** A plausible chat for an id never seen (only when `knownChatsOnly` is off). */
function guessChat(id: number): Chat {
  if (id > 0) return { id, type: 'private', first_name: `User ${id}` };
  if (String(id).startsWith('-100')) return { id, type: 'supergroup', title: `Supergroup ${id}` };
  return { id, type: 'group', title: `Group ${id}` };
}
