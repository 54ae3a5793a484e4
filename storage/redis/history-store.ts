import type { ChatMessage } from '../../providers/types';
import { keptMessages, parseStoredMessage, serializeStoredMessage } from '../history-rules';
import type { HistoryLimits, HistoryStore } from '../types';
import { callRedis, type RedisClient, settleHandshake } from './client';

/**
 * Conversations in Redis lists (one JSON message per entry). An exchange is appended, trimmed and
 * given its TTL in one script, so a crash never leaves half of it.
 */
/**
 * KEYS: the list, the set of stored exchange ids. ARGV: messages kept, TTL in seconds, exchange id
 * ('' for none), then the messages as JSON. Appends, trims and sets the TTL in one step, and skips
 * an exchange whose id is already stored.
 */
const APPEND_SCRIPT = `
local exchangeId = ARGV[3]
if exchangeId ~= '' and redis.call('SISMEMBER', KEYS[2], exchangeId) == 1 then return 0 end
for i = 4, #ARGV do redis.call('RPUSH', KEYS[1], ARGV[i]) end
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[1]), -1)
redis.call('EXPIRE', KEYS[1], ARGV[2])
if exchangeId ~= '' then
  redis.call('SADD', KEYS[2], exchangeId)
  redis.call('EXPIRE', KEYS[2], ARGV[2])
end
return 1
`;

/**
 * KEYS: the list. ARGV: messages kept, TTL in seconds, the number n of messages expected, the n
 * expected messages as JSON, then the replacement as JSON. Replaces the last n entries when their
 * roles and texts are the expected ones, then trims and renews the TTL, in one step.
 */
const REPLACE_LAST_SCRIPT = `
local n = tonumber(ARGV[3])
if n < 1 or redis.call('LLEN', KEYS[1]) < n then return 0 end
local last = redis.call('LRANGE', KEYS[1], -n, -1)
for i = 1, n do
  local ok, stored = pcall(cjson.decode, last[i])
  local wanted = cjson.decode(ARGV[3 + i])
  if not ok or type(stored) ~= 'table' or stored.role ~= wanted.role or stored.content ~= wanted.content then
    return 0
  end
end
for i = 1, n do redis.call('RPOP', KEYS[1]) end
for i = 4 + n, #ARGV do redis.call('RPUSH', KEYS[1], ARGV[i]) end
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[1]), -1)
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
`;

interface HistoryCommands {
  switchboardAppendExchange(numberOfKeys: number, ...args: (string | number)[]): Promise<number>;
  switchboardReplaceLast(numberOfKeys: number, ...args: (string | number)[]): Promise<number>;
}

export class RedisHistoryStore implements HistoryStore {
  private readonly redis: RedisClient & HistoryCommands;

  constructor(
    redis: RedisClient,
    private readonly prefix = 'sb:',
  ) {
    redis.defineCommand('switchboardAppendExchange', { lua: APPEND_SCRIPT });
    redis.defineCommand('switchboardReplaceLast', { lua: REPLACE_LAST_SCRIPT });
    this.redis = redis as RedisClient & HistoryCommands;
  }

  /** Both keys of a conversation share a hash tag, so the script runs on a Redis Cluster. */
  private key(conversationId: string): string {
    return `${this.prefix}history:{${conversationId}}`;
  }

  async load(conversationId: string): Promise<ChatMessage[]> {
    await settleHandshake(this.redis);
    const entries = await callRedis(() => this.redis.lrange(this.key(conversationId), 0, -1));
    return entries.flatMap((entry) => {
      const message = parseStoredMessage(entry);
      return message === undefined ? [] : [message];
    });
  }

  async append(
    conversationId: string,
    messages: readonly ChatMessage[],
    limits: HistoryLimits,
    exchangeId?: string,
  ): Promise<boolean> {
    if (messages.length === 0) return false;
    const key = this.key(conversationId);
    await settleHandshake(this.redis);
    const stored = await callRedis(() =>
      this.redis.switchboardAppendExchange(
        2,
        key,
        `${key}:exchanges`,
        keptMessages(limits.maxMessages),
        limits.ttlSeconds,
        exchangeId ?? '',
        ...messages.map(serializeStoredMessage),
      ),
    );
    return Number(stored) === 1;
  }

  async replaceLast(
    conversationId: string,
    expected: readonly ChatMessage[],
    replacement: readonly ChatMessage[],
    limits: HistoryLimits,
  ): Promise<boolean> {
    if (expected.length === 0) return false;
    await settleHandshake(this.redis);
    const replaced = await callRedis(() =>
      this.redis.switchboardReplaceLast(
        1,
        this.key(conversationId),
        keptMessages(limits.maxMessages),
        limits.ttlSeconds,
        expected.length,
        ...expected.map(serializeStoredMessage),
        ...replacement.map(serializeStoredMessage),
      ),
    );
    return Number(replaced) === 1;
  }

  async clear(conversationId: string): Promise<void> {
    const key = this.key(conversationId);
    await callRedis(() => this.redis.del(key, `${key}:exchanges`));
  }
}
