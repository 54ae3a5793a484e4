import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Bot, Context } from 'grammy';
import type { Update } from 'grammy/types';
import type { ChatOrdering, ChatTicket } from '../../storage';
import type { BotContext } from '../context';
import type { Logger } from '../logger';
import { isStopPress } from '../features/answer-buttons';

export interface WebhookOptions {
  readonly port: number;
  readonly path: string;
  readonly secret: string;
  readonly logger: Logger;
  /** Largest update body accepted; Telegram's updates are far smaller. */
  readonly maxBodyBytes?: number;
  /** Serves other requests on the same port (/healthz, /readyz, /metrics); returns false when it did not. */
  readonly otherRequests?: (req: IncomingMessage, res: ServerResponse) => boolean;
  /**
   * Keeps each chat's updates in the order received across every process sharing the store
   * (several webhook processes on one Redis); `maxWaitMs` bounds the wait for an earlier update
   * whose process died. Without it, the order is kept within this process only (`sequentialize`).
   */
  readonly ordering?: { readonly store: ChatOrdering; readonly maxWaitMs: number };
}

export interface WebhookServer {
  readonly port: number;
  /** Stops accepting updates and waits for those in flight. */
  close(): Promise<void>;
}

/**
 * Receives updates from Telegram. The secret header is checked before any work; a good update is
 * acknowledged at once and handled afterwards, so Telegram's request is never held open while a
 * model thinks (grammY's webhookCallback would wait, and time out after 10 s).
 *
 * With `ordering`, the update takes its chat's next ticket before it is acknowledged (so ticket
 * order is delivery order, whichever process a delivery reached) and is handled when the chat's
 * earlier tickets are done.
 */
export async function startWebhookServer(bot: Bot<BotContext>, options: WebhookOptions): Promise<WebhookServer> {
  const maxBodyBytes = options.maxBodyBytes ?? 1_000_000;
  const expected = Buffer.from(options.secret);
  const inFlight = new Set<Promise<void>>();

  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://webhook').pathname;
    if (req.method !== 'POST' && options.otherRequests?.(req, res) === true) return;
    if (req.method !== 'POST' || path !== options.path) {
      refuse(req, res, 404);
      return;
    }
    const given = Buffer.from(String(req.headers['x-telegram-bot-api-secret-token'] ?? ''));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      refuse(req, res, 401);
      return;
    }
    readBody(req, maxBodyBytes).then(
      async (body) => {
        let update: Update;
        try {
          update = JSON.parse(body) as Update;
        } catch {
          res.writeHead(400).end();
          return;
        }
        if (typeof update?.update_id !== 'number') {
          res.writeHead(400).end();
          return;
        }
        const ticket = await takeTicket(bot, update, options);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
        const handling = handleInTurn(bot, update, ticket, options)
          .catch((error: unknown) => options.logger.error({ err: error, update_id: update.update_id }, 'update failed'))
          .finally(() => inFlight.delete(handling));
        inFlight.add(handling);
      },
      (error: unknown) => {
        const tooLarge = error instanceof Error && error.message === 'too large';
        refuse(req, res, tooLarge ? 413 : 400);
      },
    );
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await Promise.allSettled([...inFlight]);
    },
  };
}

/** The chat's next ticket, or none (no chat, no ordering, or the store failed: the update is not refused for it). */
async function takeTicket(
  bot: Bot<BotContext>,
  update: Update,
  options: WebhookOptions,
): Promise<ChatTicket | undefined> {
  // A Stop press must reach the answer it stops, which holds the chat's line until it ends.
  if (options.ordering === undefined || isStopPress(update)) return undefined;
  try {
    // The chat as grammY sees it: the key `sequentialize` uses within a process.
    const chatId = new Context(update, bot.api, bot.botInfo).chat?.id;
    return chatId === undefined ? undefined : await options.ordering.store.take(String(chatId));
  } catch (error) {
    options.logger.warn(
      { err: error, update_id: update.update_id },
      'no place in the chat order; handling as it comes',
    );
    return undefined;
  }
}

/** Waits for the chat's earlier updates, handles this one, then lets the next one go. */
async function handleInTurn(
  bot: Bot<BotContext>,
  update: Update,
  ticket: ChatTicket | undefined,
  options: WebhookOptions,
): Promise<void> {
  const ordering = options.ordering;
  if (ticket === undefined || ordering === undefined) {
    await bot.handleUpdate(update);
    return;
  }
  const log = { update_id: update.update_id, chat: ticket.chatId, ticket: ticket.number };
  const outcome = await ordering.store.waitForTurn(ticket, ordering.maxWaitMs).catch((error: unknown) => {
    options.logger.warn({ err: error, ...log }, 'waiting for the chat order failed; handling now');
    return 'unordered' as const;
  });
  if (outcome === 'gave-up') {
    options.logger.warn(log, 'an earlier update of this chat did not finish in time; going on without it');
  }
  try {
    await bot.handleUpdate(update);
  } finally {
    await ordering.store
      .done(ticket)
      .catch((error: unknown) =>
        options.logger.warn({ err: error, ...log }, 'could not mark the update done in the chat order'),
      );
  }
}

/** Most of a refused request's body read and dropped before its connection is cut, and for how long. */
const MAX_DRAIN_BYTES = 16 * 1024 * 1024;
const MAX_DRAIN_MS = 10_000;

/**
 * Refuses a request without using its body: the status goes out at once, and the connection is
 * closed after it (a sender of a huge body cannot keep it). The close waits until the rest of the
 * body has arrived, read and dropped (up to MAX_DRAIN_BYTES or MAX_DRAIN_MS, then the connection
 * is cut): closing a socket with unread data resets the connection, and a client still sending
 * would then see the reset instead of the status.
 */
function refuse(req: IncomingMessage, res: ServerResponse, status: number): void {
  res.writeHead(status, { connection: 'close', 'content-length': '0' });
  if (req.complete) {
    res.end();
    return;
  }
  res.flushHeaders();
  let drained = 0;
  const cut = (): void => {
    req.socket.destroy();
  };
  const timer = setTimeout(cut, MAX_DRAIN_MS);
  timer.unref();
  req.on('data', (part: Buffer) => {
    drained += part.length;
    if (drained > MAX_DRAIN_BYTES) cut();
  });
  req.once('end', () => {
    clearTimeout(timer);
    res.end();
  });
  req.once('close', () => clearTimeout(timer));
  req.resume();
}

function readBody(req: IncomingMessage, maxBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    const collect = (part: Buffer): void => {
      size += part.length;
      if (size > maxBytes) {
        // The rest is read and dropped, not cut off: destroying the socket would reset the
        // connection before the client could read the 413.
        req.off('data', collect);
        req.resume();
        reject(new Error('too large'));
        return;
      }
      parts.push(part);
    };
    req.on('data', collect);
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}
