import { request } from 'node:http';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Bot } from 'grammy';
import type { BotContext } from '../../bot/context';
import { createLogger } from '../../bot/logger';
import { startWebhookServer, type WebhookServer } from '../../bot/intake/webhook';

/**
 * Requests the webhook refuses without using their body (wrong secret, wrong path, too large)
 * still get their status when the body is big and still being sent: the server answers at once
 * and closes the connection only after the rest of the body arrived. Closing with unread data
 * would reset the connection, and the sender would see EPIPE or ECONNRESET instead of the answer
 * (which the security suite once did, now and then).
 */
const SECRET = 'webhook-secret-for-refusals-0123456789';
const MAX_BODY = 100_000;

let server: WebhookServer;
let handled = 0;

beforeAll(async () => {
  // Never started: refused requests must not reach it, and accepted ones are not sent here.
  const bot = new Bot<BotContext>('123456:refusals-test-token');
  bot.use(() => {
    handled++;
  });
  const logger = createLogger({
    level: 'warn',
    secrets: [SECRET],
    destination: new Writable({ write: (_chunk, _encoding, done) => done() }),
  });
  server = await startWebhookServer(bot, { port: 0, path: '/hook', secret: SECRET, logger, maxBodyBytes: MAX_BODY });
});

afterAll(async () => {
  await server.close();
});

function post(path: string, body: Buffer, secret: string | undefined): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: server.port,
        path,
        method: 'POST',
        agent: false,
        headers: {
          'content-type': 'application/json',
          'content-length': body.length,
          ...(secret === undefined ? {} : { 'x-telegram-bot-api-secret-token': secret }),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
      },
    );
    req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    req.end(body);
  });
}

describe('webhook refusals of big bodies', () => {
  // Several megabytes: far more than the sockets' buffers hold, so the client is still writing
  // when the answer comes.
  const big = Buffer.from(JSON.stringify({ update_id: 1, message: { text: 'x'.repeat(4_000_000) } }));

  it('answers 401 to every big body without the secret', async () => {
    const outcomes: (number | string)[] = [];
    for (let index = 0; index < 20; index++)
      outcomes.push(await post('/hook', big, index % 2 === 0 ? 'wrong' : undefined));
    expect(outcomes).toEqual(Array.from({ length: 20 }, () => 401));
  });

  it('answers 404 elsewhere and 413 to a body over the cap, as big as it is', async () => {
    const outcomes: (number | string)[] = [];
    for (let index = 0; index < 10; index++) {
      outcomes.push(await post('/elsewhere', big, SECRET), await post('/hook', big, SECRET));
    }
    expect(outcomes).toEqual(Array.from({ length: 10 }, () => [404, 413]).flat());
    expect(handled).toBe(0);
  });
});
