import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { BotCommand, BotCommandScope, Chat, Message, MessageEntity, Update, UserFromGetMe } from 'grammy/types';
import { integerParam, type Params, parseParams, readBody } from './body';
import { type TelegramFailure, TelegramError, telegramErrors } from './errors';
import { FloodControl, type FloodControlOptions } from './flood';
import {
  channelOf,
  documentMedia,
  groupChatOf,
  photoMedia,
  privateChatOf,
  stickerMedia,
  toUser,
  videoMedia,
  videoNoteMedia,
  voiceMedia,
} from './incoming';
import { commandsKey, Described, METHODS } from './methods';
import { detectEntities, type LengthUnit } from './text';
import type {
  ApiCall,
  ChannelInput,
  Failure,
  IncomingOptions,
  SentDocument,
  MessageRef,
  StoredDraft,
  StoredMessage,
  TelegramResponse,
  UserInput,
  WaitOptions,
  WebhookDelivery,
} from './types';
import { type ChatState, TelegramWorld, type WebhookState } from './world';

export interface FakeTelegramServerOptions {
  /** The bot token the fake accepts; any other gets 401. */
  readonly token?: string;
  /** What getMe answers; the id defaults to the number before the token's colon. */
  readonly bot?: { readonly id?: number; readonly first_name?: string; readonly username?: string };
  /** Clock for message dates, call times and flood windows; real time by default. */
  readonly now?: () => number;
  /** How text length counts toward 4096 (see LengthUnit); 'utf16' by default. */
  readonly lengthUnit?: LengthUnit;
  /** Calls naming a chat the fake has not seen answer "chat not found" (default true). */
  readonly knownChatsOnly?: boolean;
  /** Accept http:// and any port in setWebhook (Telegram demands HTTPS on 443, 80, 88 or 8443). */
  readonly allowHttpWebhooks?: boolean;
  readonly firstUpdateId?: number;
  /**
   * Keep every call in `calls` (default true). Load benchmarks turn it off: listeners (`onCall`,
   * the wait helpers) still see each call as it is answered, but `calls` stays empty and responses
   * are not copied, so thousands of calls cost neither memory nor a JSON round trip each.
   */
  readonly recordCalls?: boolean;
}

export const DEFAULT_TOKEN = '1234567:AAHfakeTokenForTests_0123456789abcdefg';

const DEFAULT_WAIT_MS = 2000;

/** Methods are case-insensitive on the Bot API; calls are recorded under their canonical name. */
const CANONICAL_METHODS = new Map(
  [...Object.keys(METHODS), 'getUpdates'].map((method) => [method.toLowerCase(), method] as const),
);

interface PendingPoll {
  readonly res: ServerResponse;
  readonly call: CallDraft;
  readonly limit: number;
  timer: NodeJS.Timeout | undefined;
  done: boolean;
}

interface CallDraft {
  readonly method: string;
  readonly params: Params;
  readonly time: number;
}

type UpdateInput = Omit<Update, 'update_id'> & { update_id?: number };

/**
 * A local fake of the Telegram Bot API (`TELEGRAM_API_ROOT`), speaking HTTP the way grammY does
 * (`POST {apiRoot}/bot{token}/{method}`, JSON or multipart) and enforcing Telegram's rules with its
 * error texts. Tests inject updates as users would send them, read back what the bot did (every call,
 * the chat as it looks now, drafts), script failures and flood control, and wait on events.
 */
export class FakeTelegramServer {
  readonly token: string;
  readonly botInfo: UserFromGetMe;
  /** Every API call, in the order answered. */
  readonly calls: ApiCall[] = [];
  readonly webhookDeliveries: WebhookDelivery[] = [];
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly events = new EventEmitter();
  private readonly now: () => number;
  private world: TelegramWorld;
  private readonly failures: { method: string; failure: Failure; remaining: number }[] = [];
  private flood: FloodControl | undefined;
  private poll: PendingPoll | undefined;
  private readonly waiters = new Set<(error: Error) => void>();
  private root = '';
  /** Calls answered while `recordCalls` is off (their `index`). */
  private unrecordedCalls = 0;
  private failingDownloads = 0;
  /** Paths of the files the bot downloaded, in order (`GET /file/bot<token>/<file_path>`). */
  readonly downloads: string[] = [];

  constructor(private readonly options: FakeTelegramServerOptions = {}) {
    this.token = options.token ?? DEFAULT_TOKEN;
    this.now = options.now ?? Date.now;
    const tokenId = Number(this.token.split(':')[0]);
    this.botInfo = {
      id: options.bot?.id ?? (Number.isSafeInteger(tokenId) && tokenId > 0 ? tokenId : 123456789),
      is_bot: true,
      first_name: options.bot?.first_name ?? 'Switchboard Test',
      username: options.bot?.username ?? 'switchboard_test_bot',
      can_join_groups: true,
      can_read_all_group_messages: false,
      supports_inline_queries: false,
      can_connect_to_business: false,
      has_main_web_app: false,
      has_topics_enabled: false,
      allows_users_to_create_topics: false,
      can_manage_bots: false,
      supports_join_request_queries: false,
    };
    this.world = this.newWorld();
    this.events.setMaxListeners(100);
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`fake Telegram server failed: ${String(error)}`);
      });
    });
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  // ── lifecycle ──────────────────────────────────────────────────────────────

  async start(): Promise<{ apiRoot: string }> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = this.server.address() as AddressInfo;
    this.root = `http://127.0.0.1:${port}`;
    return { apiRoot: this.root };
  }

  /** The value for grammY's `client.apiRoot` / TELEGRAM_API_ROOT. */
  get apiRoot(): string {
    if (this.root === '') throw new Error('the fake Telegram server is not started');
    return this.root;
  }

  /** Closes the server and every connection (a held long poll included) and fails pending waits. */
  async stop(): Promise<void> {
    for (const abort of [...this.waiters]) abort(new Error('the fake Telegram server stopped'));
    const poll = this.poll;
    if (poll !== undefined) {
      poll.done = true;
      clearTimeout(poll.timer);
      this.poll = undefined;
    }
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  /** Forgets chats, updates, calls, scripted failures and flood control (the token and bot stay). */
  reset(): void {
    this.world = this.newWorld();
    this.calls.length = 0;
    this.unrecordedCalls = 0;
    this.webhookDeliveries.length = 0;
    this.failures.length = 0;
    this.failingDownloads = 0;
    this.downloads.length = 0;
    this.flood = undefined;
  }

  // ── scripting ──────────────────────────────────────────────────────────────

  /**
   * The next `times` calls of `method` fail this way instead of running: a Telegram error (429 with
   * `parameters.retry_after`, 5xx …), a raw HTTP answer, or a dropped connection. `'*'` matches any
   * method but getUpdates.
   */
  failNext(method: string, failure: Failure, times = 1): void {
    const name = method === '*' ? '*' : (CANONICAL_METHODS.get(method.toLowerCase()) ?? method);
    this.failures.push({ method: name, failure, remaining: times });
  }

  clearFailures(): void {
    this.failures.length = 0;
    this.failingDownloads = 0;
  }

  /** The next `times` file downloads (`GET /file/bot<token>/<path>`) answer 500. */
  failDownloads(times = 1): void {
    this.failingDownloads += times;
  }

  enableFloodControl(options: FloodControlOptions): void {
    this.flood = new FloodControl(options, this.now);
  }

  disableFloodControl(): void {
    this.flood = undefined;
  }

  /** Makes a chat known (injected updates do this by themselves). */
  addChat(chat: Chat): void {
    this.world.ensureChat(chat);
  }

  /** The user blocks (or unblocks) the bot: sending to them answers 403. */
  setBlocked(userId: number, blocked = true): void {
    const state =
      this.world.chats.get(userId) ??
      this.world.ensureChat({ id: userId, type: 'private', first_name: `User ${userId}` });
    state.blocked = blocked;
  }

  // ── injecting updates ──────────────────────────────────────────────────────

  /** A user's text message (private chat, or `options.chat`); bot commands, mentions and URLs get entities. */
  sendText(
    from: UserInput,
    text: string,
    options: IncomingOptions & { readonly entities?: MessageEntity[] } = {},
  ): Update {
    return this.userMessage(from, options, {
      kind: 'text',
      text,
      entities: options.entities ?? detectEntities(text),
    });
  }

  sendSticker(from: UserInput, options: IncomingOptions & { readonly emoji?: string } = {}): Update {
    return this.userMessage(from, options, {
      kind: 'sticker',
      text: '',
      entities: [],
      media: stickerMedia(options.emoji ?? '👍'),
    });
  }

  /**
   * A user's photo (two sizes, the larger last), with or without a caption. `content` is the image's
   * bytes (a tiny JPEG by default); `fileSize` what Telegram says its size is (to describe a file
   * over the 20 MB bots may download, without building one).
   */
  sendPhoto(
    from: UserInput,
    options: IncomingOptions & {
      readonly caption?: string;
      readonly content?: Buffer;
      readonly fileSize?: number;
    } = {},
  ): Update {
    const caption = options.caption ?? '';
    const { media, files } = photoMedia(options.content, options.fileSize);
    this.world.addFiles(files);
    return this.userMessage(from, options, {
      kind: 'photo',
      text: caption,
      entities: detectEntities(caption),
      media,
    });
  }

  /** A user's voice note (OGG/Opus by default), `duration` seconds long. */
  sendVoice(
    from: UserInput,
    options: IncomingOptions & {
      readonly duration?: number;
      readonly content?: Buffer;
      readonly fileSize?: number;
      readonly mimeType?: string;
    } = {},
  ): Update {
    const { media, files } = voiceMedia(options.duration ?? 3, options.content, options.fileSize, options.mimeType);
    this.world.addFiles(files);
    return this.userMessage(from, options, {
      kind: 'voice',
      text: '',
      entities: [],
      media,
    });
  }

  /** A user's round video note (MP4), `duration` seconds long. */
  sendVideoNote(
    from: UserInput,
    options: IncomingOptions & {
      readonly duration?: number;
      readonly content?: Buffer;
      readonly fileSize?: number;
    } = {},
  ): Update {
    const { media, files } = videoNoteMedia(options.duration ?? 3, options.content, options.fileSize);
    this.world.addFiles(files);
    return this.userMessage(from, options, { kind: 'video_note', text: '', entities: [], media });
  }

  /** A user's video (MP4 unless `mimeType` says otherwise), with an optional caption. */
  sendVideo(
    from: UserInput,
    options: IncomingOptions & {
      readonly duration?: number;
      readonly caption?: string;
      readonly content?: Buffer;
      readonly fileSize?: number;
      readonly mimeType?: string;
    } = {},
  ): Update {
    const caption = options.caption ?? '';
    const { media, files } = videoMedia(options.duration ?? 5, options.content, options.fileSize, options.mimeType);
    this.world.addFiles(files);
    return this.userMessage(from, options, { kind: 'video', text: caption, entities: detectEntities(caption), media });
  }

  sendDocument(
    from: UserInput,
    options: IncomingOptions & {
      readonly fileName?: string;
      readonly mimeType?: string;
      readonly caption?: string;
      readonly content?: Buffer;
      readonly fileSize?: number;
    } = {},
  ): Update {
    const caption = options.caption ?? '';
    const { media, files } = documentMedia(
      options.fileName ?? 'notes.txt',
      options.mimeType ?? 'text/plain',
      options.content,
      options.fileSize,
    );
    this.world.addFiles(files);
    return this.userMessage(from, options, {
      kind: 'document',
      text: caption,
      entities: detectEntities(caption),
      media,
    });
  }

  /** The user edits one of their text messages: an `edited_message` update. */
  editText(ref: MessageRef, newText: string, options: { readonly entities?: MessageEntity[] } = {}): Update {
    const record = this.world.findMessage(ref.chat.id, ref.message_id);
    if (record === undefined || record.deleted) throw new Error(`no message ${ref.message_id} in chat ${ref.chat.id}`);
    if (record.fromBot || record.kind !== 'text')
      throw new Error(`message ${ref.message_id} is not a user's text message`);
    const entities = options.entities ?? detectEntities(newText);
    record.previousTexts.push(record.message.text ?? '');
    const { entities: _old, ...rest } = record.message;
    record.message = {
      ...rest,
      text: newText,
      ...(entities.length > 0 ? { entities } : {}),
      edit_date: this.world.unixTime(),
    } as Message;
    return this.pushUpdate({ edited_message: record.message as Update['edited_message'] });
  }

  /** A post in a channel the bot administers. */
  channelPost(text: string, options: { readonly chat?: ChannelInput } = {}): Update {
    const state = this.world.ensureChat(channelOf(options.chat));
    const record = this.world.addMessage(state, {
      senderChat: state.chat,
      kind: 'text',
      text,
      entities: detectEntities(text),
      sourceText: text,
      parseMode: undefined,
    });
    return this.pushUpdate({ channel_post: record.message as Update['channel_post'] });
  }

  /** The user presses an inline button under `message`; answerCallbackQuery accepts this query's id once. */
  sendCallbackQuery(from: UserInput, data: string, options: { readonly message?: MessageRef } = {}): Update {
    const message = options.message ? this.lookup(options.message) : undefined;
    const chatId = message?.chat.id ?? from.id;
    if (message === undefined) this.world.ensureChat(privateChatOf(from));
    return this.pushUpdate({
      callback_query: {
        id: this.world.newCallbackQueryId(),
        from: toUser(from),
        chat_instance: String(-Math.abs(chatId) * 7919),
        data,
        ...(message ? { message } : {}),
      },
    });
  }

  /** Queues any update as is (an update_id is assigned when missing) and wakes a held getUpdates. */
  pushUpdate(update: UpdateInput): Update {
    for (const value of Object.values(update)) {
      const chat = (value as { chat?: Chat } | undefined)?.chat;
      if (chat !== undefined && typeof chat.id === 'number') this.world.ensureChat(chat);
    }
    const queued = this.world.enqueue(update);
    this.events.emit('update', queued);
    this.wakePoll();
    return queued;
  }

  // ── observing ──────────────────────────────────────────────────────────────

  /** Calls `listener` with every call as it is answered (until the returned function is called). */
  onCall(listener: (call: ApiCall) => void): () => void {
    this.events.on('call', listener);
    return () => this.events.off('call', listener);
  }

  callsTo(method: string): ApiCall[] {
    return this.calls.filter((call) => call.method === method);
  }

  /** The current call count, to pass as `since` to the wait helpers. */
  mark(): number {
    return this.calls.length;
  }

  /** The bot's messages in a chat as they look now (edits applied, deleted ones gone), oldest first. */
  messagesIn(chatId: number): StoredMessage[] {
    return this.world
      .messagesOf(chatId)
      .filter((record) => record.fromBot && !record.deleted)
      .map((record) => this.world.snapshot(record));
  }

  /** Every message in a chat, the users' and the bot's, as they look now. */
  transcript(chatId: number): StoredMessage[] {
    return this.world
      .messagesOf(chatId)
      .filter((record) => !record.deleted)
      .map((record) => this.world.snapshot(record));
  }

  /** Every document the bot sent to a chat (sendDocument with an upload), with its bytes, oldest first. */
  documentsIn(chatId: number): SentDocument[] {
    return this.world.documents.filter((document) => document.chatId === chatId);
  }

  /** Every sendMessageDraft accepted for a chat, in order. */
  drafts(chatId: number): StoredDraft[] {
    return [...(this.world.chats.get(chatId)?.drafts ?? [])];
  }

  chatActions(chatId: number): string[] {
    return (this.world.chats.get(chatId)?.actions ?? []).map((entry) => entry.action);
  }

  /** Commands set for exactly this scope and language (undefined when never set). */
  commands(
    options: { readonly scope?: BotCommandScope; readonly language_code?: string } = {},
  ): BotCommand[] | undefined {
    return this.world.commands.get(commandsKey(options as Params));
  }

  get webhook(): WebhookState | undefined {
    return this.world.webhook;
  }

  /** The highest offset the bot confirmed: updates with a smaller update_id are gone (0 before any). */
  updatesConfirmed(): number {
    return this.world.confirmedOffset;
  }

  /** Updates queued and not yet confirmed. */
  pendingUpdates(): Update[] {
    return [...this.world.updates];
  }

  /** A getUpdates request is being held open (the bot is idle and listening). */
  get isPolling(): boolean {
    return this.poll !== undefined && !this.poll.done;
  }

  // ── waiting ────────────────────────────────────────────────────────────────

  /**
   * Resolves with the first call matching `predicate` recorded from now on (or from `since`), or
   * rejects after `timeoutMs` (2 s by default) listing the recent calls.
   */
  waitFor(predicate: (call: ApiCall) => boolean, options: number | WaitOptions = {}): Promise<ApiCall> {
    const {
      timeoutMs = DEFAULT_WAIT_MS,
      since,
      description,
    } = typeof options === 'number' ? { timeoutMs: options } : options;
    if (since !== undefined) {
      const earlier = this.calls.slice(since).find(predicate);
      if (earlier !== undefined) return Promise.resolve(earlier);
    }
    return this.waitForEvent<ApiCall>('call', predicate, timeoutMs, description ?? 'a matching call');
  }

  waitForCall(
    method: string,
    predicate?: (call: ApiCall) => boolean,
    options: number | WaitOptions = {},
  ): Promise<ApiCall> {
    const settings = typeof options === 'number' ? { timeoutMs: options } : options;
    return this.waitFor((call) => call.method === method && (predicate?.(call) ?? true), {
      description: `a ${method} call`,
      ...settings,
    });
  }

  /** Resolves with the chat message a successful sendMessage / editMessageText left, once it matches. */
  async waitForMessage(
    chatId: number,
    predicate: (message: StoredMessage) => boolean = () => true,
    options: number | WaitOptions = {},
  ): Promise<StoredMessage> {
    const settings = typeof options === 'number' ? { timeoutMs: options } : options;
    let found: StoredMessage | undefined;
    await this.waitFor(
      (call) => {
        if (!call.ok || (call.method !== 'sendMessage' && call.method !== 'editMessageText')) return false;
        const result = call.response?.ok ? (call.response.result as Message) : undefined;
        if (result?.chat?.id !== chatId) return false;
        const record = this.world.findMessage(chatId, result.message_id);
        const snapshot = record && this.world.snapshot(record);
        if (snapshot === undefined || !predicate(snapshot)) return false;
        found = snapshot;
        return true;
      },
      { description: `a message in chat ${chatId}`, ...settings },
    );
    return found as StoredMessage;
  }

  /** Resolves when a getUpdates is held open: the bot has handled what it got and is listening again. */
  waitForPolling(options: number | Omit<WaitOptions, 'since'> = {}): Promise<void> {
    if (this.isPolling) return Promise.resolve();
    const { timeoutMs = DEFAULT_WAIT_MS, description } = typeof options === 'number' ? { timeoutMs: options } : options;
    return this.waitForEvent<void>('poll', () => true, timeoutMs, description ?? 'a held getUpdates');
  }

  // ── webhook mode ───────────────────────────────────────────────────────────

  /**
   * POSTs an update to the bot's webhook as Telegram does, with `X-Telegram-Bot-Api-Secret-Token`
   * (the one given to setWebhook unless `secretToken` is passed; `null` sends none). Returns the HTTP
   * status; a 2xx removes the update from the pending queue.
   */
  async deliverWebhook(url: string, update: UpdateInput, secretToken?: string | null): Promise<number> {
    const complete: Update =
      update.update_id === undefined
        ? ({ ...update, update_id: this.world.nextUpdateId++ } as Update)
        : (update as Update);
    const secret = secretToken === undefined ? this.world.webhook?.secretToken : (secretToken ?? undefined);
    const { status, body } = await postJson(url, JSON.stringify(complete), secret);
    this.webhookDeliveries.push({ url, update: complete, status, body });
    if (status >= 200 && status < 300) {
      this.world.updates = this.world.updates.filter((queued) => queued.update_id !== complete.update_id);
    }
    return status;
  }

  // ── HTTP ───────────────────────────────────────────────────────────────────

  private newWorld(): TelegramWorld {
    return new TelegramWorld({
      bot: this.botInfo,
      now: this.now,
      lengthUnit: this.options.lengthUnit ?? 'utf16',
      knownChatsOnly: this.options.knownChatsOnly ?? true,
      allowHttpWebhooks: this.options.allowHttpWebhooks ?? false,
      firstUpdateId: this.options.firstUpdateId ?? 10_001,
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const time = this.now();
    const url = new URL(req.url ?? '/', 'http://fake');
    const body = await readBody(req);
    const download = /^\/file\/bot([^/]*)\/(.+)$/.exec(url.pathname);
    if (download !== null) {
      this.download(res, decodeURIComponent(download[1] ?? ''), decodeURIComponent(download[2] ?? ''));
      return;
    }
    const match = /^\/bot([^/]*)\/([^/]+)$/.exec(url.pathname);
    if (match === null) {
      sendJson(res, 404, { ok: false, ...telegramErrors.notFound() });
      return;
    }
    const [, token = '', rawMethod = ''] = match;
    const method = CANONICAL_METHODS.get(rawMethod.toLowerCase()) ?? rawMethod;
    let call: CallDraft = { method, params: Object.fromEntries(url.searchParams), time };
    if (decodeURIComponent(token) !== this.token) {
      this.answerFailure(res, call, telegramErrors.unauthorized());
      return;
    }
    try {
      call = { ...call, params: parseParams(req.headers['content-type'], body, url.searchParams) };
    } catch (error) {
      if (error instanceof TelegramError) {
        this.answerFailure(res, call, error.failure);
        return;
      }
      throw error;
    }
    const handler = METHODS[method];
    if (handler === undefined && method !== 'getUpdates') {
      this.answerFailure(res, call, telegramErrors.methodNotFound());
      return;
    }

    const failure = this.takeFailure(method);
    if (failure !== undefined) {
      if ('drop' in failure) {
        if (failure.afterEffect && handler !== undefined) this.perform(handler, call);
        res.socket?.destroy();
        this.record(call, 'dropped', undefined);
      } else if ('body' in failure) {
        res.writeHead(failure.status, { 'content-type': failure.contentType ?? 'text/html' }).end(failure.body);
        this.record(call, failure.status, undefined);
      } else {
        this.answerFailure(res, call, failure);
      }
      return;
    }
    if (handler === undefined) {
      this.getUpdates(res, call);
      return;
    }

    const chatId = integerParam(call.params, 'chat_id');
    const flooded = this.flood?.check(method, chatId);
    if (flooded !== undefined) {
      this.answerFailure(res, call, flooded);
      return;
    }
    const outcome = this.perform(handler, call);
    if ('failure' in outcome) {
      this.answerFailure(res, call, outcome.failure);
      return;
    }
    this.flood?.record(method, chatId);
    this.answer(res, call, 200, outcome.response);
  }

  /** A file's bytes at the path getFile gave, as Telegram serves them (404 for anything else). */
  private download(res: ServerResponse, token: string, filePath: string): void {
    this.downloads.push(filePath);
    const file = token === this.token ? this.world.filesByPath.get(filePath) : undefined;
    if (this.failingDownloads > 0) {
      this.failingDownloads -= 1;
      res.writeHead(500, { 'content-type': 'text/plain' }).end('Internal Server Error');
      return;
    }
    if (file === undefined) {
      sendJson(res, 404, { ok: false, ...telegramErrors.notFound() });
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(file.content.length) });
    res.end(file.content);
  }

  private perform(
    handler: (world: TelegramWorld, params: Params) => unknown,
    call: CallDraft,
  ): { response: TelegramResponse } | { failure: TelegramFailure } {
    try {
      const result = handler(this.world, call.params);
      return {
        response:
          result instanceof Described
            ? { ok: true, result: result.result, description: result.description }
            : { ok: true, result },
      };
    } catch (error) {
      if (error instanceof TelegramError) return { failure: error.failure };
      throw error;
    }
  }

  /**
   * getUpdates: confirm by offset, answer what is there, or hold the request up to `timeout` seconds
   * of real time (the `now` clock does not shorten it; an update or stop() ends it early).
   */
  private getUpdates(res: ServerResponse, call: CallDraft): void {
    const world = this.world;
    if (world.webhook !== undefined) {
      this.answerFailure(res, call, telegramErrors.webhookActive());
      return;
    }
    const previous = this.poll;
    if (previous !== undefined)
      this.finishPoll(previous, { ok: false, ...telegramErrors.terminatedByOtherGetUpdates() });

    world.confirm(integerParam(call.params, 'offset'));
    if (Array.isArray(call.params.allowed_updates)) world.allowedUpdates = call.params.allowed_updates.map(String);
    const limit = Math.min(100, Math.max(1, integerParam(call.params, 'limit') ?? 100));
    const timeoutSeconds = Math.max(0, integerParam(call.params, 'timeout') ?? 0);
    const ready = world.deliverable(limit);
    if (ready.length > 0 || timeoutSeconds === 0) {
      this.answer(res, call, 200, { ok: true, result: ready });
      return;
    }

    const poll: PendingPoll = { res, call, limit, timer: undefined, done: false };
    poll.timer = setTimeout(
      () => this.finishPoll(poll, { ok: true, result: this.world.deliverable(limit) }),
      timeoutSeconds * 1000,
    );
    res.on('close', () => {
      if (poll.done) return;
      poll.done = true;
      clearTimeout(poll.timer);
      if (this.poll === poll) this.poll = undefined;
      this.record(call, 'cancelled', undefined);
    });
    this.poll = poll;
    this.events.emit('poll');
  }

  private wakePoll(): void {
    const poll = this.poll;
    if (poll === undefined) return;
    const ready = this.world.deliverable(poll.limit);
    if (ready.length > 0) this.finishPoll(poll, { ok: true, result: ready });
  }

  private finishPoll(poll: PendingPoll, response: TelegramResponse): void {
    if (poll.done) return;
    poll.done = true;
    clearTimeout(poll.timer);
    if (this.poll === poll) this.poll = undefined;
    this.answer(poll.res, poll.call, response.ok ? 200 : response.error_code, response);
  }

  private takeFailure(method: string): Failure | undefined {
    const index = this.failures.findIndex(
      (entry) => entry.method === method || (entry.method === '*' && method !== 'getUpdates'),
    );
    const entry = this.failures[index];
    if (entry === undefined) return undefined;
    entry.remaining--;
    if (entry.remaining <= 0) this.failures.splice(index, 1);
    return entry.failure;
  }

  private answerFailure(res: ServerResponse, call: CallDraft, failure: TelegramFailure): void {
    this.answer(res, call, failure.error_code, { ok: false, ...failure });
  }

  private answer(res: ServerResponse, call: CallDraft, status: number, response: TelegramResponse): void {
    const text = JSON.stringify(response);
    if (!res.destroyed) res.writeHead(status, { 'content-type': 'application/json' }).end(text);
    // Recorded as the client saw it (a copy: later edits do not rewrite history).
    this.record(call, status, this.options.recordCalls === false ? response : (JSON.parse(text) as TelegramResponse));
  }

  private record(call: CallDraft, status: ApiCall['status'], response: TelegramResponse | undefined): void {
    const index = this.options.recordCalls === false ? this.unrecordedCalls++ : this.calls.length;
    const recorded: ApiCall = { index, ...call, status, response, ok: response?.ok === true };
    if (this.options.recordCalls !== false) this.calls.push(recorded);
    this.events.emit('call', recorded);
  }

  private userMessage(
    from: UserInput,
    options: IncomingOptions,
    content: { kind: StoredMessage['kind']; text: string; entities: MessageEntity[]; media?: Partial<Message> },
  ): Update {
    const state: ChatState = this.world.ensureChat(options.chat ? groupChatOf(options.chat) : privateChatOf(from));
    const replyTo = options.reply_to_message ? this.lookup(options.reply_to_message) : undefined;
    const record = this.world.addMessage(state, {
      from: toUser(from),
      kind: content.kind,
      text: content.text,
      entities: content.entities,
      sourceText: content.text,
      parseMode: undefined,
      ...(replyTo ? { replyTo } : {}),
      ...(content.media ? { media: content.media } : {}),
    });
    return this.pushUpdate({ message: record.message as Update['message'] });
  }

  private lookup(ref: MessageRef): Message {
    const record = this.world.findMessage(ref.chat.id, ref.message_id);
    if (record === undefined) throw new Error(`no message ${ref.message_id} in chat ${ref.chat.id}`);
    return record.message;
  }

  private waitForEvent<T>(
    event: 'call' | 'poll',
    predicate: (value: T) => boolean,
    timeoutMs: number,
    description: string,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const finish = (): void => {
        clearTimeout(timer);
        this.events.off(event, listener);
        this.waiters.delete(abort);
      };
      const abort = (error: Error): void => {
        finish();
        reject(error);
      };
      const listener = (value: T): void => {
        let matched: boolean;
        try {
          matched = predicate(value);
        } catch (error) {
          abort(error instanceof Error ? error : new Error(String(error)));
          return;
        }
        if (matched) {
          finish();
          resolve(value);
        }
      };
      const timer = setTimeout(() => abort(new Error(this.describeTimeout(description, timeoutMs))), timeoutMs);
      this.events.on(event, listener);
      this.waiters.add(abort);
    });
  }

  private describeTimeout(description: string, timeoutMs: number): string {
    const recent = this.calls.slice(-12);
    const lines = recent.map((call) => `  #${call.index} ${describeCall(call)}`);
    return [
      `fake Telegram: waited ${timeoutMs} ms for ${description}; none came.`,
      `${this.calls.length} calls so far${recent.length < this.calls.length ? `, the last ${recent.length}` : ''}:`,
      ...(lines.length > 0 ? lines : ['  (none)']),
      `pending updates: ${this.world.updates.length}; getUpdates held open: ${this.isPolling ? 'yes' : 'no'}`,
    ].join('\n');
  }
}

function describeCall(call: ApiCall): string {
  const params = Object.entries(call.params)
    .map(([key, value]) => {
      const text = typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
      return `${key}=${text.length > 60 ? `${text.slice(0, 57)}…` : text}`;
    })
    .join(' ');
  const outcome =
    call.response === undefined
      ? String(call.status)
      : call.response.ok
        ? `${call.status} ok`
        : `${call.status} ${call.response.description}`;
  return `${call.method}(${params}) → ${outcome}`;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/** One POST on its own connection (no keep-alive agent left behind to hold the process open). */
function postJson(
  url: string,
  body: string,
  secretToken: string | undefined,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
    };
    if (secretToken !== undefined) headers['x-telegram-bot-api-secret-token'] = secretToken;
    const req = request(url, { method: 'POST', headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (part: Buffer) => parts.push(part));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
