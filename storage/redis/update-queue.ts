import type { QueuedUpdate, UpdateQueue } from '../types';
import { callRedis, execPipeline, type RedisClient } from './client';

/**
 * Appends an update unless its id was appended in the last day (an update fetched twice is queued
 * once). KEYS: the stream, the update's "seen" marker. ARGV: update id, payload, how long the
 * marker lasts (ms). Returns 1 when appended, 0 when already seen.
 */
const APPEND_SCRIPT = `
if not redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[3]) then return 0 end
redis.call('XADD', KEYS[1], '*', 'u', ARGV[1], 'p', ARGV[2])
return 1
`;

const GROUP = 'workers';
const SEEN_FOR_MS = 24 * 3_600_000;
const DEAD_LETTERS_KEPT = 1_000;

interface QueueCommands {
  switchboardAppendUpdate(numberOfKeys: number, ...args: (string | number)[]): Promise<number>;
}

type StreamEntry = [id: string, fields: string[] | null];

/**
 * The intake queue every bot process shares: a Redis Stream read through one consumer group
 * (XREADGROUP), acknowledged and deleted once handled (XACK + XDEL, so the stream holds only what
 * is still to do), entries of a consumer that went quiet claimed by another (XPENDING + XCLAIM).
 * All keys share one hash tag, for a Redis Cluster. Blocking reads go through a client of their
 * own (`blocking`): a blocked connection serves nothing else.
 */
export class RedisUpdateQueue implements UpdateQueue {
  private readonly redis: RedisClient & QueueCommands;
  private readonly stream: string;
  private readonly dead: string;
  private groupReady: Promise<void> | undefined;

  constructor(
    redis: RedisClient,
    private readonly blocking: RedisClient,
    private readonly prefix = 'sb:',
  ) {
    redis.defineCommand('switchboardAppendUpdate', { lua: APPEND_SCRIPT });
    this.redis = redis as RedisClient & QueueCommands;
    this.stream = `${prefix}{intake}:updates`;
    this.dead = `${prefix}{intake}:dead`;
  }

  async append(updateId: number, payload: string): Promise<boolean> {
    const seen = `${this.prefix}{intake}:seen:${updateId}`;
    const added = await callRedis(() =>
      this.redis.switchboardAppendUpdate(2, this.stream, seen, updateId, payload, SEEN_FOR_MS),
    );
    return added === 1;
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
  return [{ entryId, updateId: Number(values.u), payload: values.p, deliveries }];
}
