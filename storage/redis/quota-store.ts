import type { KeyLimits } from '../../providers/types';
import { quotaMonth, SLOT_WINDOW_MS } from '../quota-rules';
import type {
  AcquireRequest,
  AcquireResult,
  BlockReason,
  KeyBlock,
  KeyUsage,
  QuotaObservation,
  QuotaStore,
  Settlement,
  WindowObservation,
} from '../../providers/ports';
import { callRedis, execPipeline, type RedisClient } from './client';
import { WriteBatcher } from './write-batcher';
import { ACQUIRE_SCRIPT, BLOCK_SCRIPT, OBSERVE_SCRIPT, SETTLE_SCRIPT } from './quota-scripts';

const BLOCK_REASONS: readonly BlockReason[] = [
  'cooldown',
  'quota',
  'bad',
  'rpm',
  'rpd',
  'tpm',
  'tpd',
  'tph',
  'monthly',
  'too_large',
];

type ScriptReply = (string | number)[];

interface QuotaCommands {
  switchboardAcquire(numberOfKeys: number, ...args: (string | number)[]): Promise<ScriptReply>;
  switchboardSettle(numberOfKeys: number, ...args: (string | number)[]): Promise<number>;
  switchboardBlock(numberOfKeys: number, ...args: (string | number)[]): Promise<number>;
  switchboardObserve(numberOfKeys: number, ...args: (string | number)[]): Promise<number>;
}

/** The quota store several bot processes share: every admission is one atomic Lua script. */
export class RedisQuotaStore implements QuotaStore {
  private readonly redis: RedisClient & QuotaCommands;
  private readonly settlements: WriteBatcher<Settlement>;
  private phantomCounter = 0;

  constructor(
    redis: RedisClient,
    private readonly prefix = 'sb:',
    options: { readonly settleAfterMs?: number; readonly maxSettlements?: number } = {},
  ) {
    this.settlements = new WriteBatcher((settlements) => this.writeSettlements(settlements), {
      windowMs: options.settleAfterMs ?? 25,
      maxItems: options.maxSettlements ?? 200,
    });
    redis.defineCommand('switchboardAcquire', { lua: ACQUIRE_SCRIPT });
    redis.defineCommand('switchboardSettle', { lua: SETTLE_SCRIPT });
    redis.defineCommand('switchboardBlock', { lua: BLOCK_SCRIPT });
    redis.defineCommand('switchboardObserve', { lua: OBSERVE_SCRIPT });
    this.redis = redis as RedisClient & QuotaCommands;
  }

  private keys(
    keyId: string,
    day: string,
  ): { min: string; day: string; learned: string; block: string; month: string; hour: string } {
    // One hash tag for all quota keys: a script touches several keys, which must share a Cluster slot.
    const base = `${this.prefix}{quota}:${keyId}`;
    return {
      min: `${base}:min`,
      day: `${base}:day:${day}`,
      learned: `${base}:learned`,
      block: `${base}:block`,
      month: `${base}:month:${quotaMonth(day)}`,
      hour: `${base}:hour`,
    };
  }

  async acquire(request: AcquireRequest): Promise<AcquireResult> {
    const keys: string[] = [];
    const args: (string | number)[] = [request.now, request.tokens, request.reservationId, request.candidates.length];
    for (const candidate of request.candidates) {
      const names = this.keys(candidate.keyId, request.day);
      keys.push(names.min, names.day, names.learned, names.block, names.month, names.hour);
      const { limits } = candidate;
      args.push(
        limits.requestsPerMinute ?? 0,
        limits.requestsPerDay ?? 0,
        limits.tokensPerMinute ?? 0,
        limits.tokensPerDay ?? 0,
        limits.requestsPerMonth ?? 0,
        limits.tokensPerHour ?? 0,
        candidate.keyId,
      );
    }
    const reply = await callRedis(() => this.redis.switchboardAcquire(keys.length, ...keys, ...args));
    if (Number(reply[0]) === 1) return { ok: true, keyId: String(reply[1]) };
    const blocks: KeyBlock[] = [];
    for (let index = 1; index + 2 < reply.length + 1; index += 3) {
      const reason = String(reply[index + 1]) as BlockReason;
      const until = String(reply[index + 2] ?? '');
      blocks.push({
        keyId: String(reply[index]),
        reason: BLOCK_REASONS.includes(reason) ? reason : 'cooldown',
        until: until === '' ? undefined : Number(until),
      });
    }
    return { ok: false, blocks };
  }

  /**
   * Settlements wait up to `settleAfterMs` and go to Redis together (WriteBatcher): until then a
   * reservation counts its estimate, which errs high, so admission stays on the safe side.
   */
  settle(settlement: Settlement): Promise<void> {
    return this.settlements.add(settlement);
  }

  /** Writes the settlements waiting; resolves when every write so far is done, failed or not. */
  flush(): Promise<void> {
    return this.settlements.flush();
  }

  private async writeSettlements(settlements: readonly Settlement[]): Promise<void> {
    const keys: string[] = [];
    const args: (string | number)[] = [];
    for (const settlement of settlements) {
      const names = this.keys(settlement.keyId, settlement.day);
      keys.push(names.min, names.day, names.month, names.hour);
      args.push(
        settlement.reservationId,
        settlement.reservedTokens,
        settlement.actualTokens,
        settlement.uncount === true ? 1 : 0,
      );
    }
    await callRedis(() => this.redis.switchboardSettle(keys.length, ...keys, ...args));
  }

  async block(keyId: string, reason: BlockReason, until: number, now: number): Promise<void> {
    await callRedis(() => this.redis.switchboardBlock(1, this.keys(keyId, '').block, reason, until, now));
  }

  async unblock(keyId: string): Promise<void> {
    await callRedis(() => this.redis.del(this.keys(keyId, '').block));
  }

  async observe(keyId: string, observation: QuotaObservation, now: number, day: string): Promise<void> {
    // Settlements waiting go first, in the same round trip: the headers describe the usage after
    // the answer, so they must be compared with the settled count, not the estimate.
    void this.settlements.flush();
    const names = this.keys(keyId, day);
    const windowArgs = (window: WindowObservation | undefined): string[] => [
      window?.limit === undefined ? '' : String(window.limit),
      window?.remaining === undefined ? '' : String(window.remaining),
      window?.resetAt === undefined ? '' : String(Math.round(window.resetAt)),
    ];
    await callRedis(() =>
      this.redis.switchboardObserve(
        4,
        names.min,
        names.day,
        names.learned,
        names.block,
        now,
        ...windowArgs(observation.requestsPerMinute),
        ...windowArgs(observation.requestsPerDay),
        ...windowArgs(observation.tokensPerMinute),
        ...windowArgs(observation.tokensPerDay),
        ...windowArgs(observation.requests),
        `phantom-${process.pid}-${now}-${++this.phantomCounter}`,
      ),
    );
  }

  async usage(keyIds: readonly string[], now: number, day: string): Promise<KeyUsage[]> {
    if (keyIds.length === 0) return [];
    // This process's own settlements first, so that the figures include them.
    await this.flush();
    const pipeline = this.redis.pipeline();
    for (const keyId of keyIds) {
      const names = this.keys(keyId, day);
      pipeline.zrangebyscore(names.min, `(${now - SLOT_WINDOW_MS}`, '+inf');
      pipeline.hmget(names.day, 'r', 't');
      pipeline.hmget(names.learned, 'rpm', 'rpd', 'tpm', 'tpd');
      pipeline.hmget(names.block, 'reason', 'until');
      pipeline.hget(names.month, 'r');
    }
    const replies = await execPipeline(pipeline);
    return keyIds.map((keyId, index) => {
      const at = (offset: number): unknown => {
        const [error, value] = replies[index * 5 + offset] ?? [null, null];
        if (error) throw error;
        return value;
      };
      const members = (at(0) as string[] | null) ?? [];
      let requestsLastMinute = 0;
      let tokensLastMinute = 0;
      for (const member of members) {
        const [, , tokens, requests] = /^(.*)\|([^|]*)\|([^|]*)$/.exec(member) ?? [];
        tokensLastMinute += Number(tokens ?? 0);
        requestsLastMinute += Number(requests ?? 0);
      }
      const [requestsToday, tokensToday] = (at(1) as (string | null)[]).map((value) => Number(value ?? 0));
      const [rpm, rpd, tpm, tpd] = (at(2) as (string | null)[]).map((value) =>
        value === null ? undefined : Number(value),
      );
      const [reason, until] = at(3) as (string | null)[];
      const learnedLimits: KeyLimits = {
        ...(rpm === undefined ? {} : { requestsPerMinute: rpm }),
        ...(rpd === undefined ? {} : { requestsPerDay: rpd }),
        ...(tpm === undefined ? {} : { tokensPerMinute: tpm }),
        ...(tpd === undefined ? {} : { tokensPerDay: tpd }),
      };
      const blockedUntil = until === null || until === undefined ? undefined : Number(until);
      return {
        keyId,
        requestsLastMinute,
        tokensLastMinute,
        requestsToday: requestsToday ?? 0,
        tokensToday: tokensToday ?? 0,
        requestsThisMonth: Number(at(4) ?? 0),
        learnedLimits,
        block:
          blockedUntil !== undefined && blockedUntil > now
            ? {
                reason: BLOCK_REASONS.includes(reason as BlockReason) ? (reason as BlockReason) : 'cooldown',
                until: blockedUntil,
              }
            : undefined,
      };
    });
  }
}
