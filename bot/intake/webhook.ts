import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Bot } from 'grammy';
import type { Update } from 'grammy/types';
import type { BotContext } from '../context';
import type { Logger } from '../logger';

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
   * The durable intake (with Redis): each update is appended to the shared queue, and Telegram
   * gets its 200 only once the append succeeded; a failed append, or a queue over its backlog
   * limit (`full`), gets a 503, so Telegram delivers the update again later. The queue's workers
   * handle it, in its chat's order, in whichever process. Without it, updates are handled in this
   * process, each chat in order (`sequentialize`).
   */
  readonly queue?: { readonly append: (update: Update) => Promise<void>; readonly full: () => boolean };
}

export interface WebhookServer {
  readonly port: number;
  /** Stops accepting updates and waits for those in flight. */
  close(): Promise<void>;
}

/**
 * Receives updates from Telegram. The secret header is checked before any work; a good update is
 * acknowledged at once (or once queued) and handled afterwards, so Telegram's request is never
 * held open while a model thinks (grammY's webhookCallback would wait, and time out after 10 s).
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
        const queue = options.queue;
        if (queue !== undefined) {
          if (queue.full()) {
            res.writeHead(503, { 'retry-after': '5' }).end();
            return;
          }
          try {
            await queue.append(update);
          } catch (error) {
            options.logger.warn(
              { err: error, update_id: update.update_id },
              'could not queue an update; Telegram will send it again',
            );
            res.writeHead(503).end();
            return;
          }
          res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
        const handling = bot
          .handleUpdate(update)
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
