import { FakeTelegramServer, type FakeTelegramServerOptions } from './server';

export { DEFAULT_TOKEN, FakeTelegramServer, type FakeTelegramServerOptions } from './server';
export { type TelegramFailure, telegramErrors } from './errors';
export { DEFAULT_FLOOD_METHODS, type FloodControlOptions, type RateWindow } from './flood';
export { type LengthUnit, MAX_MESSAGE_LENGTH, textLength } from './text';
export type {
  ApiCall,
  ChannelInput,
  DropConnection,
  Failure,
  GroupChatInput,
  IncomingOptions,
  MessageRef,
  RawHttpResponse,
  SentDocument,
  StoredDraft,
  StoredMessage,
  TelegramResponse,
  UserInput,
  WaitOptions,
  WebhookDelivery,
} from './types';

/** Starts a fake Telegram Bot API on a free loopback port; `stop()` it in `afterAll`. */
export async function startFakeTelegramServer(options: FakeTelegramServerOptions = {}): Promise<FakeTelegramServer> {
  const server = new FakeTelegramServer(options);
  await server.start();
  return server;
}
