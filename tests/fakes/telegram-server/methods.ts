import type { BotCommand, WebhookInfo } from 'grammy/types';
import { booleanParam, integerParam, isUploadedFile, type Params, stringParam } from './body';
import { fail, telegramErrors } from './errors';
import { formatOutgoingText } from './text';
import type { TelegramWorld } from './world';

/** A result that also carries the `description` Telegram adds to some successes ("Webhook was set"). */
export class Described {
  constructor(
    readonly result: unknown,
    readonly description: string,
  ) {}
}

export type MethodHandler = (world: TelegramWorld, params: Params) => unknown;

const CHAT_ACTIONS = new Set([
  'typing',
  'upload_photo',
  'record_video',
  'upload_video',
  'record_voice',
  'upload_voice',
  'upload_document',
  'choose_sticker',
  'find_location',
  'record_video_note',
  'upload_video_note',
]);

/** Bots may download files of at most 20 MB (getFile refuses larger ones). */
export const MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024;

const WEBHOOK_PORTS = new Set(['', '80', '88', '443', '8443']);

/**
 * The Bot API methods the fake implements (getUpdates is the server's: it holds requests open).
 * Each enforces the rules Telegram enforces and answers with Telegram's error texts.
 */
export const METHODS: Readonly<Record<string, MethodHandler>> = {
  getMe: (world) => world.bot,

  /** A file a user sent: its path for the download, or Telegram's refusal above 20 MB. */
  getFile(world, params) {
    const fileId = stringParam(params, 'file_id');
    const file = fileId === undefined ? undefined : world.files.get(fileId);
    if (file === undefined) fail(telegramErrors.invalidFileId());
    if (file.file_size > MAX_DOWNLOAD_BYTES) fail(telegramErrors.fileTooBig());
    return {
      file_id: file.file_id,
      file_unique_id: file.file_unique_id,
      file_size: file.file_size,
      file_path: file.file_path,
    };
  },

  close: () => true,
  logOut: () => true,

  sendMessage(world, params) {
    const state = world.writableChat(params);
    const formatted = formatOutgoingText(params, { allowEmpty: false, lengthUnit: world.options.lengthUnit });
    const replyTo = world.resolveReplyTarget(state, params);
    const record = world.addMessage(state, {
      from: world.botUser,
      kind: 'text',
      text: formatted.text,
      entities: formatted.entities,
      sourceText: stringParam(params, 'text') ?? '',
      parseMode: stringParam(params, 'parse_mode'),
      replyMarkup: params.reply_markup,
      ...(replyTo ? { replyTo } : {}),
    });
    return record.message;
  },

  editMessageText(world, params) {
    if (params.inline_message_id !== undefined) fail(telegramErrors.messageToEditNotFound());
    const state = world.resolveChat(params);
    const messageId = integerParam(params, 'message_id');
    if (messageId === undefined) fail(telegramErrors.messageIdentifierNotSpecified());
    const formatted = formatOutgoingText(params, { allowEmpty: false, lengthUnit: world.options.lengthUnit });
    const record = state.messages.get(messageId);
    if (record === undefined || record.deleted) fail(telegramErrors.messageToEditNotFound());
    if (!record.fromBot) fail(telegramErrors.messageCantBeEdited());
    if (record.kind !== 'text')
      fail({ error_code: 400, description: 'Bad Request: there is no text in the message to edit' });

    const current = record.message;
    const sameText = current.text === formatted.text;
    const sameEntities = canonicalJson(current.entities ?? []) === canonicalJson(formatted.entities);
    const sameMarkup =
      canonicalJson(normalizeMarkup(current.reply_markup)) === canonicalJson(normalizeMarkup(params.reply_markup));
    if (sameText && sameEntities && sameMarkup) fail(telegramErrors.messageNotModified());

    record.previousTexts.push(current.text ?? '');
    const { entities: _old, reply_markup: _oldMarkup, ...rest } = current;
    record.message = {
      ...rest,
      text: formatted.text,
      ...(formatted.entities.length > 0 ? { entities: formatted.entities } : {}),
      ...(params.reply_markup !== undefined ? { reply_markup: params.reply_markup } : {}),
      edit_date: world.unixTime(),
    } as typeof current;
    record.sourceText = stringParam(params, 'text') ?? '';
    record.parseMode = stringParam(params, 'parse_mode');
    return record.message;
  },

  /**
   * A document uploaded with the call (multipart). Files sent by file_id or URL are not modelled:
   * the bot never has any. The bytes are kept for tests (`documentsIn`).
   */
  sendDocument(world, params) {
    const state = world.writableChat(params);
    // grammY (like any client) sends `document: "attach://<part>"` and the file as that part.
    const reference = stringParam(params, 'document') ?? '';
    const file = reference.startsWith('attach://') ? params[reference.slice('attach://'.length)] : params.document;
    if (!isUploadedFile(file)) fail(telegramErrors.noDocument());
    if (file.size === 0) fail(telegramErrors.fileEmpty());
    const caption = formatOutgoingText(
      { ...params, text: params.caption, entities: params.caption_entities },
      { allowEmpty: true, lengthUnit: world.options.lengthUnit },
    );
    if (caption.text.length > 1024) fail(telegramErrors.captionTooLong());
    const replyTo = world.resolveReplyTarget(state, params);
    const record = world.addMessage(state, {
      from: world.botUser,
      kind: 'document',
      text: caption.text,
      entities: caption.entities,
      sourceText: stringParam(params, 'caption') ?? '',
      parseMode: stringParam(params, 'parse_mode'),
      replyMarkup: params.reply_markup,
      media: {
        document: {
          file_id: `document-${world.documents.length + 1}`,
          file_unique_id: `unique-document-${world.documents.length + 1}`,
          file_name: file.filename,
          ...(file.contentType === undefined ? {} : { mime_type: file.contentType }),
          file_size: file.size,
        },
      },
      ...(replyTo ? { replyTo } : {}),
    });
    world.documents.push({
      chatId: state.chat.id,
      messageId: record.message.message_id,
      fileName: file.filename,
      mimeType: file.contentType,
      caption: caption.text,
      content: file.content,
    });
    return record.message;
  },

  /** Bot API 9.3: a streamed preview of a message, private chats only. Empty text shows "Thinking…". */
  sendMessageDraft(world, params) {
    const state = world.writableChat(params);
    if (state.chat.type !== 'private') fail(telegramErrors.textDraftPeerInvalid());
    const draftId = integerParam(params, 'draft_id');
    if (draftId === undefined || draftId === 0) fail(telegramErrors.draftIdInvalid());
    const formatted = formatOutgoingText(params, { allowEmpty: true, lengthUnit: world.options.lengthUnit });
    state.drafts.push({
      chatId: state.chat.id,
      draftId,
      text: formatted.text,
      entities: formatted.entities,
      sourceText: stringParam(params, 'text') ?? '',
      parseMode: stringParam(params, 'parse_mode'),
      time: world.options.now(),
    });
    return true;
  },

  sendChatAction(world, params) {
    const state = world.writableChat(params);
    const action = stringParam(params, 'action') ?? '';
    if (!CHAT_ACTIONS.has(action)) fail(telegramErrors.wrongChatAction());
    state.actions.push({ action, time: world.options.now() });
    return true;
  },

  deleteMessage(world, params) {
    const state = world.resolveChat(params);
    const messageId = integerParam(params, 'message_id');
    const record = messageId === undefined ? undefined : state.messages.get(messageId);
    if (record === undefined || record.deleted) fail(telegramErrors.messageToDeleteNotFound());
    record.deleted = true;
    return true;
  },

  setMessageReaction(world, params) {
    const state = world.resolveChat(params);
    const messageId = integerParam(params, 'message_id');
    const record = messageId === undefined ? undefined : state.messages.get(messageId);
    record?.reactions.push(params.reaction);
    return true;
  },

  answerCallbackQuery(world, params) {
    const id = stringParam(params, 'callback_query_id') ?? '';
    const query = world.callbackQueries.get(id);
    if (query === undefined || query.answered) fail(telegramErrors.queryTooOld());
    query.answered = true;
    query.params = params;
    return true;
  },

  setMyCommands(world, params) {
    const commands = params.commands;
    if (!Array.isArray(commands) || commands.length > 100) fail(telegramErrors.botCommandInvalid());
    const checked: BotCommand[] = commands.map((entry: unknown) => {
      const command = typeof entry === 'object' && entry !== null ? (entry as Params) : {};
      const name = stringParam(command, 'command') ?? '';
      const description = stringParam(command, 'description') ?? '';
      if (!/^[a-z0-9_]{1,32}$/.test(name)) fail(telegramErrors.botCommandInvalid());
      if (description.trim().length === 0 || description.length > 256) {
        fail(telegramErrors.botCommandDescriptionInvalid());
      }
      return { command: name, description };
    });
    world.commands.set(commandsKey(params), checked);
    return true;
  },

  getMyCommands: (world, params) => world.commands.get(commandsKey(params)) ?? [],

  deleteMyCommands(world, params) {
    world.commands.delete(commandsKey(params));
    return true;
  },

  setWebhook(world, params) {
    const url = stringParam(params, 'url') ?? '';
    if (booleanParam(params, 'drop_pending_updates')) world.dropPendingUpdates();
    if (url === '') {
      world.webhook = undefined;
      return new Described(true, 'Webhook was deleted');
    }
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      fail(telegramErrors.invalidWebhookUrl());
    }
    if (!world.options.allowHttpWebhooks) {
      if (parsed.protocol !== 'https:') fail(telegramErrors.httpsWebhookRequired());
      if (!WEBHOOK_PORTS.has(parsed.port)) fail(telegramErrors.webhookPortNotAllowed());
    }
    const secretToken = stringParam(params, 'secret_token');
    if (secretToken !== undefined && !/^[A-Za-z0-9_-]{1,256}$/.test(secretToken)) {
      fail(telegramErrors.secretTokenInvalid());
    }
    const allowed = params.allowed_updates;
    world.webhook = {
      url,
      secretToken,
      maxConnections: integerParam(params, 'max_connections') ?? 40,
      ipAddress: stringParam(params, 'ip_address'),
      allowedUpdates: Array.isArray(allowed) ? allowed.map(String) : world.webhook?.allowedUpdates,
    };
    return new Described(true, 'Webhook was set');
  },

  deleteWebhook(world, params) {
    if (booleanParam(params, 'drop_pending_updates')) world.dropPendingUpdates();
    const wasSet = world.webhook !== undefined;
    world.webhook = undefined;
    return new Described(true, wasSet ? 'Webhook was deleted' : 'Webhook is already deleted');
  },

  getWebhookInfo(world): WebhookInfo {
    const webhook = world.webhook;
    const pending = world.updates.length;
    if (webhook === undefined) return { url: '', has_custom_certificate: false, pending_update_count: pending };
    return {
      url: webhook.url,
      has_custom_certificate: false,
      pending_update_count: pending,
      max_connections: webhook.maxConnections,
      ...(webhook.ipAddress ? { ip_address: webhook.ipAddress } : {}),
      ...(webhook.allowedUpdates
        ? { allowed_updates: [...webhook.allowedUpdates] as WebhookInfo['allowed_updates'] }
        : {}),
    };
  },
};

/** Commands are kept per (scope, language_code), as Telegram does; getMyCommands does not fall back. */
export function commandsKey(params: Params): string {
  const scope = typeof params.scope === 'object' && params.scope !== null ? (params.scope as Params) : {};
  const type = stringParam(scope, 'type') ?? 'default';
  const chat = stringParam(scope, 'chat_id') ?? '';
  const user = stringParam(scope, 'user_id') ?? '';
  return `${type}:${chat}:${user}|${stringParam(params, 'language_code') ?? ''}`;
}

/** No markup and an empty inline keyboard are the same thing to Telegram. */
function normalizeMarkup(markup: unknown): unknown {
  if (typeof markup !== 'object' || markup === null) return null;
  const keyboard = (markup as { inline_keyboard?: unknown }).inline_keyboard;
  if (Array.isArray(keyboard) && keyboard.every((row) => Array.isArray(row) && row.length === 0)) return null;
  return markup;
}

/** JSON with sorted keys, so equal objects compare equal whatever order their keys came in. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) => {
    if (typeof inner !== 'object' || inner === null || Array.isArray(inner)) return inner;
    return Object.fromEntries(Object.entries(inner as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)));
  });
}
