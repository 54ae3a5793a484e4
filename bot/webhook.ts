import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Bot } from 'grammy';
import type { Update } from 'grammy/types';
import type { BotContext } from './context';
import type { Logger } from './logger';

export interface WebhookOptions {
  readonly port: number;
  readonly path: string;
  readonly secret: string;
  readonly logger: Logger;
  /** Largest update body accepted; Telegram's updates are far smaller. */
  readonly maxBodyBytes?: number;
  /** Serves other requests on the same port (/healthz, /readyz, /metrics); returns false when it did not. */
  readonly otherRequests?: (req: IncomingMessage, res: ServerResponse) => boolean;
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
 */
export async function startWebhookServer(bot: Bot<BotContext>, options: WebhookOptions): Promise<WebhookServer> {
  const maxBodyBytes = options.maxBodyBytes ?? 1_000_000;
  const expected = Buffer.from(options.secret);
  const inFlight = new Set<Promise<void>>();

  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://webhook').pathname;
    if (req.method !== 'POST' && options.otherRequests?.(req, res) === true) return;
    if (req.method !== 'POST' || path !== options.path) {
      res.writeHead(404).end();
      req.resume();
      return;
    }
    const given = Buffer.from(String(req.headers['x-telegram-bot-api-secret-token'] ?? ''));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      res.writeHead(401).end();
      req.resume();
      return;
    }
    readBody(req, maxBodyBytes).then(
      (body) => {
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
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
        const handling = bot
          .handleUpdate(update)
          .catch((error: unknown) => options.logger.error({ err: error, update_id: update.update_id }, 'update failed'))
          .finally(() => inFlight.delete(handling));
        inFlight.add(handling);
      },
      (error: unknown) => {
        const tooLarge = error instanceof Error && error.message === 'too large';
        res.writeHead(tooLarge ? 413 : 400).end();
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

function readBody(req: IncomingMessage, maxBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (part: Buffer) => {
      size += part.length;
      if (size > maxBytes) {
        reject(new Error('too large'));
        req.destroy();
        return;
      }
      parts.push(part);
    });
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}
