import { TurnWaiters } from '../turn-waiters';
import { type ChatOrdering, type ChatTicket, isStorageUnavailable } from '../types';
import { callRedis, type RedisClient } from './client';

/**
 * KEYS: the chat's line (a hash: next, served). ARGV: TTL in ms.
 * Takes the next ticket; returns it and the served number, so an uncontended update needs no read.
 */
const TAKE_SCRIPT = `
local ticket = redis.call('HINCRBY', KEYS[1], 'next', 1)
redis.call('PEXPIRE', KEYS[1], ARGV[1])
local served = tonumber(redis.call('HGET', KEYS[1], 'served') or '0')
return { ticket, served }
`;

/**
 * `serve(line, ticket, ttl, channel, chat)`, a Lua function for scripts that mark a ticket done
 * (this store's, and the intake queue's acknowledgement).
 * served = max(served, ticket), never past the last ticket taken (a late mark after the line
 * expired must not let future tickets skip ahead). Publishes the new served number only when a
 * later ticket exists, i.e. when someone may be waiting for it. Returns the served number.
 */
export const SERVE_FUNCTION = `
local function serve(line_key, ticket, ttl, channel, chat)
  local line = redis.call('HMGET', line_key, 'next', 'served')
  local next = tonumber(line[1] or '0')
  local served = tonumber(line[2] or '0')
  local target = math.min(tonumber(ticket), next)
  if target > served then
    served = target
    redis.call('HSET', line_key, 'served', served)
    redis.call('PEXPIRE', line_key, ttl)
    if next > served then redis.call('PUBLISH', channel, chat .. ' ' .. served) end
  end
  return served
end
`;

const SERVE_SCRIPT = `${SERVE_FUNCTION}
return serve(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
`;

interface OrderingCommands {
  switchboardTakeTicket(numberOfKeys: number, key: string, ttlMs: number): Promise<[number, number]>;
  switchboardServeTurn(
    numberOfKeys: number,
    key: string,
    ticket: number,
    ttlMs: number,
    channel: string,
    chatId: string,
  ): Promise<number>;
}

export interface RedisChatOrderingOptions {
  readonly prefix?: string;
  /** How long an idle chat's line is kept; far longer than any update takes. */
  readonly ttlMs?: number;
  /** How often a waited-on chat is read again, in case a notification was lost. */
  readonly recheckMs?: number;
  /**
   * Where a chat's line is kept, when another store takes its tickets (the intake queue takes them
   * in its append script, so its lines share the queue's hash tag). Default: `<prefix>order:{chat}`.
   */
  readonly lineKey?: (chatId: string) => string;
  /** The pub/sub channel for served numbers (default `<prefix>order:served`). */
  readonly channel?: string;
}

/**
 * Chat order shared by every process: a ticket lock per chat in one Redis hash (`next`, `served`),
 * with waiters woken by pub/sub. Each process holds one subscription (its `subscriber` connection,
 * which can do nothing else) to one channel; a ticket marked done publishes the chat's new served
 * number there only when a later ticket exists.
 *
 * Pub/sub is at most once (a message sent while the subscriber reconnects is lost), so a waited-on
 * chat is also read again every `recheckMs` (1 s) and at once after a reconnect: a lost message
 * costs at most that delay, never a stuck chat.
 *
 * Done marks that fail while Redis is away are remembered (the highest ticket per chat) and
 * written when it is back, so a chat does not wait for tickets that were in fact done: on the
 * connection's next 'ready', and as soon as a read of a line succeeds again (a Cluster whose shard
 * failed over, or a Sentinel master that was replaced without this connection dropping, gives no
 * 'ready'; a waiter reads its line every `recheckMs`).
 */
export class RedisChatOrdering implements ChatOrdering {
  private readonly redis: RedisClient & OrderingCommands;
  private readonly prefix: string;
  private readonly ttlMs: number;
  private readonly channel: string;
  private readonly waiters: TurnWaiters;
  /** Tickets whose predecessors were all done when they were taken. */
  private readonly clearAtTake = new WeakSet<ChatTicket>();
  private readonly unsent = new Map<string, number>();
  private writingUnsent = false;
  private readonly lineKey: ((chatId: string) => string) | undefined;

  constructor(
    redis: RedisClient,
    private readonly subscriber: RedisClient,
    options: RedisChatOrderingOptions = {},
  ) {
    redis.defineCommand('switchboardTakeTicket', { lua: TAKE_SCRIPT });
    redis.defineCommand('switchboardServeTurn', { lua: SERVE_SCRIPT });
    this.redis = redis as RedisClient & OrderingCommands;
    this.prefix = options.prefix ?? 'sb:';
    this.ttlMs = options.ttlMs ?? 3_600_000;
    this.channel = options.channel ?? `${this.prefix}order:served`;
    this.lineKey = options.lineKey;
    this.waiters = new TurnWaiters({
      read: (chatId) => this.readServed(chatId),
      ...(options.recheckMs === undefined ? {} : { recheckMs: options.recheckMs }),
    });
    subscriber.on('message', (channel: string, message: string) => {
      if (channel !== this.channel) return;
      const space = message.lastIndexOf(' ');
      this.waiters.learn(message.slice(0, space), Number(message.slice(space + 1)));
    });
    // After a reconnect: subscribe again, write the marks that failed meanwhile, read what was missed.
    subscriber.on('ready', () => void this.subscribe());
    if (subscriber.status === 'ready') void this.subscribe();
    redis.on('ready', () => void this.writeUnsent().then(() => this.waiters.recheckAll()));
    // Connection lost: re-read at once, so waiters fail over now rather than at the next re-read.
    redis.on('close', () => this.waiters.recheckAll());
  }

  async take(chatId: string): Promise<ChatTicket> {
    const [number, served] = await callRedis(() => this.redis.switchboardTakeTicket(1, this.key(chatId), this.ttlMs));
    const ticket: ChatTicket = { chatId, number: Number(number) };
    if (Number(served) >= ticket.number - 1) this.clearAtTake.add(ticket);
    if (this.unsent.size > 0) void this.writeUnsent(); // Redis answers again (a timeout needs no reconnect)
    return ticket;
  }

  async waitForTurn(ticket: ChatTicket, maxWaitMs: number): Promise<'turn' | 'gave-up'> {
    if (this.clearAtTake.has(ticket)) return 'turn';
    const outcome = await this.waiters.wait(ticket, maxWaitMs);
    if (outcome === 'gave-up') {
      // The tickets ahead count as done from now on; if Redis is away that is written later.
      await this.serve(ticket.chatId, ticket.number - 1).catch((error: unknown) => {
        if (!isStorageUnavailable(error)) throw error;
      });
    }
    return outcome;
  }

  async done(ticket: ChatTicket): Promise<void> {
    await this.serve(ticket.chatId, ticket.number);
  }

  /**
   * A served number written by another script (the intake queue marks a ticket done with its
   * acknowledgement): wakes this process's waiters at once.
   */
  learn(chatId: string, served: number): void {
    this.waiters.learn(chatId, served);
  }

  private key(chatId: string): string {
    if (this.lineKey !== undefined) return this.lineKey(chatId);
    // One key per chat; the hash tag keeps it whole on a Redis Cluster.
    return `${this.prefix}order:{${chatId}}`;
  }

  private async serve(chatId: string, number: number): Promise<void> {
    let served: number;
    try {
      served = Number(
        await callRedis(() =>
          this.redis.switchboardServeTurn(1, this.key(chatId), number, this.ttlMs, this.channel, chatId),
        ),
      );
    } catch (error) {
      if (isStorageUnavailable(error)) this.unsent.set(chatId, Math.max(number, this.unsent.get(chatId) ?? 0));
      throw error;
    }
    this.waiters.learn(chatId, served);
  }

  private async readServed(chatId: string): Promise<number> {
    const served = await callRedis(() => this.redis.hget(this.key(chatId), 'served'));
    if (this.unsent.size > 0) void this.writeUnsent(); // Redis answers again
    return served === null ? 0 : Number(served);
  }

  private async subscribe(): Promise<void> {
    try {
      await this.subscriber.subscribe(this.channel);
    } catch {
      return; // the next 'ready' tries again
    }
    this.waiters.recheckAll();
  }

  private async writeUnsent(): Promise<void> {
    if (this.writingUnsent) return;
    this.writingUnsent = true;
    let written = 0;
    try {
      for (const [chatId, number] of [...this.unsent]) {
        this.unsent.delete(chatId);
        await this.serve(chatId, number).then(
          () => written++,
          () => undefined,
        );
      }
    } finally {
      this.writingUnsent = false;
    }
    // What was written wakes waiters by itself (`serve` learns it); a re-read catches the rest.
    if (written > 0) this.waiters.recheckAll();
  }
}
