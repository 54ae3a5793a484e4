import type { ChatOrdering, QueuedUpdate, UpdateQueue } from '../types';
import { RedisChatOrdering, SERVE_FUNCTION } from './chat-ordering';
import { Cluster, type Redis } from 'ioredis';
import { callRedis, execPipeline, type RedisClient } from './client';

/**
 * Appends an update unless its id is among the last SEEN_KEPT ids appended (or older than all of
 * them, once that many are kept): an update fetched or delivered twice is queued once. With a chat,
 * the same step takes the chat's next ticket (so ticket order is stream order, and a second append
 * takes none), noting whether every earlier ticket was already done (then its turn needs no wait). KEYS: the stream, the seen ids (a sorted set), the chat's line (optional). ARGV:
 * update id, payload, ids kept, the line's TTL in ms, chat id (with a line). Returns 1 when
 * appended, 0 when already seen.
 */
const APPEND_SCRIPT = `
local id = tonumber(ARGV[1])
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then return 0 end
local kept = tonumber(ARGV[3])
if redis.call('ZCARD', KEYS[2]) >= kept then
  local lowest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  if lowest[2] and id < tonumber(lowest[2]) then return 0 end
end
redis.call('ZADD', KEYS[2], id, ARGV[1])
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(kept + 1))
if KEYS[3] then
  local ticket = redis.call('HINCRBY', KEYS[3], 'next', 1)
  redis.call('PEXPIRE', KEYS[3], ARGV[4])
  local served = tonumber(redis.call('HGET', KEYS[3], 'served') or '0')
  local first = 0
  if served >= ticket - 1 then first = 1 end
  redis.call('XADD', KEYS[1], '*', 'u', ARGV[1], 'p', ARGV[2], 'c', ARGV[5], 't', ticket, 'f', first)
else
  redis.call('XADD', KEYS[1], '*', 'u', ARGV[1], 'p', ARGV[2])
end
return 1
`;

/**
 * Starts the idle time of the entries a consumer holds again (XCLAIM to itself with JUSTID, which
 * leaves the delivery count alone), and hands it again, with their fields, the entries it was
 * given but does not hold (a take whose reply was lost). KEYS: the stream. ARGV: group, consumer,
 * most entries, then the ids held. Returns the entries handed again, as XCLAIM gives them.
 */
const TOUCH_SCRIPT = `
local held = {}
for index = 4, #ARGV do held[ARGV[index]] = true end
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', tonumber(ARGV[3]), ARGV[2])
local touch, lost = {}, {}
for _, entry in ipairs(pending) do
  if held[entry[1]] then touch[#touch + 1] = entry[1] else lost[#lost + 1] = entry[1] end
end
if #touch > 0 then
  touch[#touch + 1] = 'JUSTID'
  redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, unpack(touch))
end
if #lost == 0 then return {} end
return redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, unpack(lost))
`;

/**
 * Acknowledges and deletes an entry and, with a line, marks its ticket done (as the chat lines'
 * own script does). KEYS: the stream, the chat's line (optional). ARGV: group, entry id, ticket,
 * the line's TTL in ms, channel, chat id. Returns the chat's served number, or -1 without a line.
 */
const COMPLETE_SCRIPT = `${SERVE_FUNCTION}
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
if KEYS[2] then return serve(KEYS[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]) end
return -1
`;

const GROUP = 'workers';
/** The Cluster slot of the `{intake}` hash tag (CRC16 of "intake" mod 16384). */
const INTAKE_SLOT = 3714;
/** How many appended update ids are remembered, to queue an update fetched twice once. */
const SEEN_KEPT = 100_000;
const DEAD_LETTERS_KEPT = 1_000;
/** How long an idle chat's line is kept: far longer than any update waits in the queue. */
const LINE_TTL_MS = 24 * 3_600_000;
const TOUCH_MAX = 5_000;
/** Longest wait for a replica to take the appends; how long a count of replicas is trusted. */
const REPLICA_WAIT_MS = 250;
const REPLICA_COUNT_FOR_MS = 10_000;

interface QueueCommands {
  switchboardAppendUpdate(numberOfKeys: number, ...args: (string | number)[]): Promise<number>;
  switchboardTouchEntries(numberOfKeys: number, ...args: (string | number)[]): Promise<number>;
  switchboardCompleteEntry(numberOfKeys: number, ...args: (string | number)[]): Promise<number>;
}

type StreamEntry = [id: string, fields: string[] | null];

export interface RedisUpdateQueueClients {
  readonly redis: RedisClient;
  /** A connection for blocking reads only: a blocked connection serves nothing else. */
  readonly blocking: RedisClient;
  /** A subscribed connection, for the chat lines' "served" notifications. */
  readonly subscriber: RedisClient;
  readonly prefix?: string;
}

/**
 * The intake queue every bot process shares: a Redis Stream read through one consumer group
 * (XREADGROUP), acknowledged and deleted once handled (XACK + XDEL, so the stream holds only what
 * is still to do), entries of a consumer that went quiet claimed by another (XPENDING + XCLAIM),
 * while a consumer that is still working keeps its entries by touching them. Each chat's updates
 * take tickets in the append script, in lines kept beside the stream; every key shares one hash
 * tag, so the scripts work on a Redis Cluster (docs/architecture.md, "Intake").
 */
export class RedisUpdateQueue implements UpdateQueue {
  readonly ordering: ChatOrdering;
  private readonly lines: RedisChatOrdering;
  private readonly channel: string;
  private readonly redis: RedisClient & QueueCommands;
  private readonly blocking: RedisClient;
  private readonly prefix: string;
  private readonly stream: string;
  private readonly seen: string;
  private readonly dead: string;
  private groupReady: Promise<void> | undefined;
  /** The stream master's replicas as last counted, under its replication id (new after a promotion). */
  private replicas: { replicationId: string; count: number; at: number } | undefined;
  private recount = false;

  constructor(clients: RedisUpdateQueueClients) {
    clients.redis.defineCommand('switchboardAppendUpdate', { lua: APPEND_SCRIPT });
    clients.redis.defineCommand('switchboardTouchEntries', { lua: TOUCH_SCRIPT });
    clients.redis.defineCommand('switchboardCompleteEntry', { lua: COMPLETE_SCRIPT });
    this.redis = clients.redis as RedisClient & QueueCommands;
    this.blocking = clients.blocking;
    this.prefix = clients.prefix ?? 'sb:';
    this.stream = `${this.prefix}{intake}:updates`;
    this.seen = `${this.prefix}{intake}:seen`;
    this.dead = `${this.prefix}{intake}:dead`;
    this.channel = `${this.prefix}{intake}:served`;
    this.lines = new RedisChatOrdering(clients.redis, clients.subscriber, {
      prefix: this.prefix,
      ttlMs: LINE_TTL_MS,
      lineKey: (chatId) => this.lineKey(chatId),
      channel: this.channel,
    });
    this.ordering = this.lines;
  }

  async append(updateId: number, payload: string, chatId?: string): Promise<boolean> {
    const keys = chatId === undefined ? [this.stream, this.seen] : [this.stream, this.seen, this.lineKey(chatId)];
    const added = await callRedis(() =>
      this.redis.switchboardAppendUpdate(
        keys.length,
        ...keys,
        updateId,
        payload,
        SEEN_KEPT,
        LINE_TTL_MS,
        ...(chatId === undefined ? [] : [chatId]),
      ),
    );
    return added === 1;
  }

  async confirmDurable(): Promise<boolean> {
    // WAIT counts the writes of the connection it is sent on: the one to the stream's master.
    const master = this.streamMaster();
    if (master === undefined) return false;
    const now = Date.now();
    if (this.replicas === undefined || this.recount || now - this.replicas.at > REPLICA_COUNT_FOR_MS) {
      let info: string;
      try {
        info = String(await master.info('replication'));
      } catch {
        return false; // not known, not "no replicas": nothing is confirmed on it
      }
      const replicationId = /master_replid:(\w+)/.exec(info)?.[1] ?? '';
      const count = Number(/connected_slaves:(\d+)/.exec(info)?.[1] ?? 0);
      const known = this.replicas;
      // The same master keeps, for a while, the count it had: a replica it lost may be the one
      // a failover just promoted while this master still takes writes (SENTINEL FAILOVER), and an
      // update only it and the other replicas hold would be thrown away when it is demoted. A
      // replica that really left stops counting after REPLICA_COUNT_FOR_MS.
      const keep =
        known?.replicationId === replicationId && count < known.count && now - known.at <= REPLICA_COUNT_FOR_MS;
      this.replicas = keep ? known : { replicationId, count, at: now };
      this.recount = false;
    }
    if (this.replicas.count === 0) return true; // a Redis without replicas: WAIT would only time out
    // Every replica, so that whichever a failover promotes has it (one that is down costs the wait).
    const acknowledged = Number(await master.call('WAIT', this.replicas.count, REPLICA_WAIT_MS).catch(() => 0));
    if (acknowledged < this.replicas.count) this.recount = true; // count them again next time
    return acknowledged >= this.replicas.count;
  }

  /** The connection to the master holding the stream's slot (the client itself, off a Cluster). */
  private streamMaster(): Redis | undefined {
    const redis = this.redis as RedisClient;
    if (!(redis instanceof Cluster)) return redis;
    const owner = redis.slots[INTAKE_SLOT]?.[0];
    return redis.nodes('master').find((node) => `${node.options.host}:${node.options.port}` === owner);
  }

  async take(consumer: string, count: number, blockMs: number): Promise<QueuedUpdate[]> {
    await this.ensureGroup();
    const args: (string | number)[] = ['GROUP', GROUP, consumer, 'COUNT', count];
    if (blockMs > 0) args.push('BLOCK', Math.min(1000, Math.round(blockMs)));
    args.push('STREAMS', this.stream, '>');
    const reply = await this.withGroup(() => callRedis(() => this.blocking.call('XREADGROUP', ...args)));
    return entriesOfRead(reply).flatMap((entry) => toQueued(entry, 1));
  }

  async reclaim(consumer: string, idleMs: number, count: number): Promise<QueuedUpdate[]> {
    await this.ensureGroup();
    const pending = (await this.withGroup(() =>
      callRedis(() => this.redis.call('XPENDING', this.stream, GROUP, 'IDLE', idleMs, '-', '+', count)),
    )) as [id: string, consumer: string, idle: number, deliveries: number][];
    if (pending.length === 0) return [];
    const deliveries = new Map(pending.map(([id, , , times]) => [id, Number(times)]));
    const claimed = (await callRedis(() =>
      this.redis.call('XCLAIM', this.stream, GROUP, consumer, idleMs, ...pending.map(([id]) => id)),
    )) as StreamEntry[];
    return claimed.flatMap((entry) => toQueued(entry, (deliveries.get(entry[0]) ?? 0) + 1));
  }

  async touch(consumer: string, holding: readonly string[]): Promise<QueuedUpdate[]> {
    await this.ensureGroup();
    const lost = (await this.withGroup(() =>
      callRedis(() => this.redis.switchboardTouchEntries(1, this.stream, GROUP, consumer, TOUCH_MAX, ...holding)),
    )) as unknown as StreamEntry[];
    // Handed out once more by this claim: the delivery count is not read back (at least 2).
    return lost.flatMap((entry) => toQueued(entry, 2));
  }

  async complete(entry: QueuedUpdate, markTurn: boolean): Promise<void> {
    const ticket = markTurn ? entry.ticket : undefined;
    if (ticket === undefined) {
      await this.ack([entry.entryId]);
      return;
    }
    const served = await callRedis(() =>
      this.redis.switchboardCompleteEntry(
        2,
        this.stream,
        this.lineKey(ticket.chatId),
        GROUP,
        entry.entryId,
        ticket.number,
        LINE_TTL_MS,
        this.channel,
        ticket.chatId,
      ),
    );
    this.lines.learn(ticket.chatId, Number(served));
  }

  async ack(entryIds: readonly string[]): Promise<void> {
    if (entryIds.length === 0) return;
    const pipeline = this.redis.multi();
    pipeline.xack(this.stream, GROUP, ...entryIds);
    pipeline.xdel(this.stream, ...entryIds);
    await execPipeline(pipeline);
  }

  async deadLetter(entry: QueuedUpdate, reason: string): Promise<void> {
    const pipeline = this.redis.multi();
    pipeline.xadd(
      this.dead,
      'MAXLEN',
      '~',
      DEAD_LETTERS_KEPT,
      '*',
      'u',
      entry.updateId,
      'r',
      reason,
      'p',
      entry.payload,
    );
    pipeline.xack(this.stream, GROUP, entry.entryId);
    pipeline.xdel(this.stream, entry.entryId);
    await execPipeline(pipeline);
  }

  async backlog(): Promise<number> {
    return callRedis(() => this.redis.xlen(this.stream));
  }

  async deadLetters(count: number): Promise<{ updateId: number; reason: string }[]> {
    const entries = (await callRedis(() => this.redis.xrevrange(this.dead, '+', '-', 'COUNT', count))) as StreamEntry[];
    return entries.reverse().map(([, fields]) => {
      const values = fieldsOf(fields ?? []);
      return { updateId: Number(values.u), reason: values.r ?? '' };
    });
  }

  private lineKey(chatId: string): string {
    return `${this.prefix}{intake}:line:${chatId}`;
  }

  /** Creates the consumer group (and the stream) once; a group already there is fine. */
  private ensureGroup(): Promise<void> {
    this.groupReady ??= callRedis(() => this.redis.call('XGROUP', 'CREATE', this.stream, GROUP, '0', 'MKSTREAM'))
      .then(() => undefined)
      .catch((error: unknown) => {
        if (error instanceof Error && error.message.startsWith('BUSYGROUP')) return;
        this.groupReady = undefined;
        throw error;
      });
    return this.groupReady;
  }

  /** Runs a group command, creating the group again once if Redis lost it (a restart without persistence). */
  private async withGroup<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (!(error instanceof Error && error.message.startsWith('NOGROUP'))) throw error;
      this.groupReady = undefined;
      await this.ensureGroup();
      return call();
    }
  }
}

/**
 * The entries of an XREADGROUP reply for one stream: `[stream, entries]` as ioredis 6 hands it,
 * or `[[stream, entries]]` as the protocol nests it; nothing when the read timed out.
 */
function entriesOfRead(reply: unknown): StreamEntry[] {
  if (!Array.isArray(reply) || reply.length === 0) return [];
  const stream = typeof reply[0] === 'string' ? reply : reply[0];
  return Array.isArray(stream) && Array.isArray(stream[1]) ? (stream[1] as StreamEntry[]) : [];
}

function fieldsOf(fields: readonly string[]): Record<string, string> {
  const values: Record<string, string> = {};
  for (let index = 0; index + 1 < fields.length; index += 2) values[fields[index]!] = fields[index + 1]!;
  return values;
}

/** A stream entry as a queued update; nothing for an entry deleted meanwhile (its fields are gone). */
function toQueued([entryId, fields]: StreamEntry, deliveries: number): QueuedUpdate[] {
  if (fields === null) return [];
  const values = fieldsOf(fields);
  if (values.u === undefined || values.p === undefined) return [];
  const ticket =
    values.c !== undefined && values.t !== undefined ? { chatId: values.c, number: Number(values.t) } : undefined;
  return [
    {
      entryId,
      updateId: Number(values.u),
      payload: values.p,
      deliveries,
      ...(ticket === undefined ? {} : { ticket, firstInLine: values.f === '1' }),
    },
  ];
}
