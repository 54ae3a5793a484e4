import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type FakeProviderServer, startFakeProviderServer } from '../fakes/provider-server';
import { type FakeTelegramServer, startFakeTelegramServer, type UserInput } from '../fakes/telegram-server';
import { botEnv, FIRST_PROVIDER, SECOND_PROVIDER, SHORT_TIMEOUTS, startPollingBot } from '../helpers/bot-harness';
import type { BotProcess } from '../helpers/bot-process';
import { failoverLoad, turnLines } from '../helpers/failover-load';
import { ask, startClusterSet, type TestClusterSet, waitForReplicas } from '../helpers/redis-topologies';

const users: UserInput[] = Array.from({ length: 6 }, (_, index) => ({
  id: 6400 + index,
  first_name: `Cluster user ${index + 1}`,
  language_code: 'en',
}));
/** They talk only before the failovers and after: their conversations must come through whole. */
const quiet: UserInput[] = [6410, 6411, 6412].map((id) => ({ id, first_name: `Quiet ${id}`, language_code: 'en' }));
const warmUp = (user: UserInput): string[] => [`warm ${user.id} m1`, `warm ${user.id} m2`];
const historyKey = (user: UserInput): string => `sb:history:{u:${user.id}}`;
/** Every key quota lives under this hash tag, on one shard: the busiest one. */
const QUOTA_KEY = 'sb:{quota}:any';

/**
 * The bot on a real Redis Cluster of three masters with a replica each. Six users talk to it
 * without pause while the master holding every key quota is killed (its replica is elected after
 * `cluster-node-timeout`), and later while another shard is failed over on purpose (CLUSTER
 * FAILOVER on its replica, which catches up first). The bot follows both: every message is
 * answered once and the conversations go on, on whichever shard holds them now.
 */
describe('the bot on a Redis Cluster, failed over under load', () => {
  let cluster: TestClusterSet;
  let telegram: FakeTelegramServer;
  let providers: FakeProviderServer;
  let bot: BotProcess;
  const load = failoverLoad({
    bot: () => bot,
    telegram: () => telegram,
    providers: () => providers,
    users,
    quiet,
    storedTurns: async (user) =>
      turnLines(
        await ask((await cluster.shardOf(historyKey(user))).master, undefined, 'LRANGE', historyKey(user), '0', '-1'),
      ),
  });

  beforeAll(async () => {
    [cluster, telegram, providers] = await Promise.all([
      startClusterSet({ masters: 3, replicasPerMaster: 1 }),
      startFakeTelegramServer(),
      startFakeProviderServer(),
    ]);
    bot = await startPollingBot(
      telegram,
      botEnv(telegram, providers, [FIRST_PROVIDER, SECOND_PROVIDER], {
        ...SHORT_TIMEOUTS,
        // The host is not used: the nodes named here tell where the others are.
        REDIS_URL: 'redis://127.0.0.1:1',
        REDIS_CLUSTER_NODES: cluster.ports
          .slice(0, 2)
          .map((port) => `127.0.0.1:${port}`)
          .join(','),
        RATE_LIMIT_PER_MINUTE: '0',
        HISTORY_MAX_MESSAGES: '1000',
        STREAM_REPLIES: 'false',
      }),
    );
  }, 40_000);

  afterAll(async () => {
    await bot?.stop();
    await Promise.all([telegram?.stop(), providers?.stop(), cluster?.stop()]);
  });

  it('spreads the conversations over the shards', async () => {
    for (const user of [...users, ...quiet]) for (const text of warmUp(user)) await load.turn(user, text);
    const masters = new Set(
      await Promise.all(users.map(async (user) => (await cluster.shardOf(historyKey(user))).master)),
    );
    expect(masters.size).toBeGreaterThan(1);
    for (const user of [...users, ...quiet]) {
      const { master } = await cluster.shardOf(historyKey(user));
      expect(turnLines(await ask(master, undefined, 'LRANGE', historyKey(user), '0', '-1'))).toEqual(
        warmUp(user).flatMap((text) => [`user: ${text}`, `assistant: echo: ${text}`]),
      );
      // Its replica holds it: these writes outlive the master.
      expect(await waitForReplicas(master)).toBe(1);
    }
  });

  it('keeps answering while the master of the key quotas is killed and its replica elected', async () => {
    const old = (await cluster.shardOf(QUOTA_KEY)).master;
    let elected = old;
    await load.underLoad('kill', async () => {
      elected = await cluster.killMaster(QUOTA_KEY);
    });
    expect(elected).not.toBe(old);
  }, 40_000);

  it('keeps answering through CLUSTER FAILOVER of a shard holding conversations', async () => {
    const quotaShard = (await cluster.shardOf(QUOTA_KEY)).master;
    let target: string | undefined;
    // A shard holding a conversation (a quiet user's, if one lives off the quota shard).
    for (const user of [...users, ...quiet]) {
      const shard = await cluster.shardOf(historyKey(user));
      if (shard.master !== quotaShard && shard.replicas.length > 0) target = historyKey(user);
    }
    expect(target).toBeDefined();
    const old = (await cluster.shardOf(target!)).master;
    let promoted = old;
    await load.underLoad('switch', async () => {
      promoted = await cluster.failover(target!);
    });
    expect(promoted).not.toBe(old);
  }, 40_000);

  it('answered every message once, and the conversations go on', async () => {
    await load.expectConversationsKept(warmUp);
  }, 30_000);

  it('kept the bot up and back on Redis', () => {
    load.expectBackOnRedis([]);
  });
});
