import type { ResponseParameters } from 'grammy/types';

/** A Bot API error as Telegram sends it: `{"ok":false,"error_code":…,"description":…,"parameters":…}`. */
export interface TelegramFailure {
  readonly error_code: number;
  readonly description: string;
  readonly parameters?: ResponseParameters;
}

/** Thrown by method handlers; the server turns it into the error response. */
export class TelegramError extends Error {
  constructor(readonly failure: TelegramFailure) {
    super(failure.description);
    this.name = 'TelegramError';
  }
}

export function fail(failure: TelegramFailure): never {
  throw new TelegramError(failure);
}

function badRequest(detail: string): TelegramFailure {
  return { error_code: 400, description: `Bad Request: ${detail}` };
}

/**
 * Telegram's own error texts, for the fake to answer with and for tests to script (`failNext`) and
 * assert on. Those marked "unverified" are plausible wordings not confirmed against the real API.
 */
export const telegramErrors = {
  unauthorized: (): TelegramFailure => ({ error_code: 401, description: 'Unauthorized' }),
  notFound: (): TelegramFailure => ({ error_code: 404, description: 'Not Found' }),
  methodNotFound: (): TelegramFailure => ({ error_code: 404, description: 'Not Found: method not found' }),
  tooManyRequests: (retryAfterSeconds: number): TelegramFailure => ({
    error_code: 429,
    description: `Too Many Requests: retry after ${retryAfterSeconds}`,
    parameters: { retry_after: retryAfterSeconds },
  }),
  internalServerError: (): TelegramFailure => ({ error_code: 500, description: 'Internal Server Error' }),
  badGateway: (): TelegramFailure => ({ error_code: 502, description: 'Bad Gateway' }),
  botBlocked: (): TelegramFailure => ({ error_code: 403, description: 'Forbidden: bot was blocked by the user' }),
  terminatedByOtherGetUpdates: (): TelegramFailure => ({
    error_code: 409,
    description: 'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running',
  }),
  webhookActive: (): TelegramFailure => ({
    error_code: 409,
    description:
      "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
  }),
  chatNotFound: () => badRequest('chat not found'),
  invalidFileId: () => badRequest('invalid file_id'),
  fileTooBig: () => badRequest('file is too big'),
  chatIdEmpty: () => badRequest('chat_id is empty'),
  messageTextEmpty: () => badRequest('message text is empty'),
  messageTooLong: () => badRequest('message is too long'),
  captionTooLong: () => badRequest('message caption is too long'),
  noDocument: () => badRequest('there is no document in the request'),
  fileEmpty: () => badRequest('file must be non-empty'),
  cantParseEntities: (detail: string) => badRequest(`can't parse entities: ${detail}`),
  unsupportedParseMode: () => badRequest('unsupported parse_mode'),
  messageNotModified: () =>
    badRequest(
      'message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message',
    ),
  messageToEditNotFound: () => badRequest('message to edit not found'),
  messageCantBeEdited: () => badRequest("message can't be edited"),
  messageToDeleteNotFound: () => badRequest('message to delete not found'),
  messageToReplyNotFound: () => badRequest('message to be replied not found'),
  messageIdentifierNotSpecified: () => badRequest('message identifier is not specified'),
  /** sendMessageDraft to a chat that is not private. */
  textDraftPeerInvalid: () => badRequest('TEXTDRAFT_PEER_INVALID'),
  /** Unverified wording. */
  draftIdInvalid: () => badRequest('draft_id must be non-zero'),
  wrongChatAction: () => badRequest('wrong parameter action in request'),
  queryTooOld: () => badRequest('query is too old and response timeout expired or query ID is invalid'),
  httpsWebhookRequired: () => badRequest('bad webhook: An HTTPS URL must be provided for webhook'),
  webhookPortNotAllowed: () => badRequest('bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443'),
  invalidWebhookUrl: () => badRequest('invalid webhook URL specified'),
  /** Unverified wording. */
  secretTokenInvalid: () => badRequest('secret token contains unallowed characters'),
  botCommandInvalid: () => badRequest('BOT_COMMAND_INVALID'),
  botCommandDescriptionInvalid: () => badRequest('BOT_COMMAND_DESCRIPTION_INVALID'),
  cantParseJson: () => badRequest("can't parse JSON object"),
} as const;
