import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type FakeProviderServer, startFakeProviderServer } from '../fakes/provider-server';
import { type FakeTelegramServer, startFakeTelegramServer, type UserInput } from '../fakes/telegram-server';
import { botEnv, FIRST_PROVIDER, SECOND_PROVIDER, SHORT_TIMEOUTS, startPollingBot } from '../helpers/bot-harness';
import type { BotProcess } from '../helpers/bot-process';
import { failoverLoad, turnLines } from '../helpers/failover-load';
import {
  ask,
  askWithoutPassword,
  startSentinelSet,
  type TestSentinelSet,
  waitForReplicas,
} from '../helpers/redis-topologies';

const PASSWORD = 'data-pass_0123456789';
const SENTINEL_PASSWORD = 'sentinel-pass_0123456789';

const users: UserInput[] = Array.from({ length: 6 }, (_, index) => ({
  id: 6300 + index,
  first_name: `Sentinel user ${index + 1}`,
  language_code: 'en',
}));
/** They talk only before the failovers and after: their conversations must come through whole. */
const quiet: UserInput[] = [6310, 6311].map((id) => ({ id, first_name: `Quiet ${id}`, language_code: 'en' }));
const warmUp = (user: UserInput): string[] => [`warm ${user.id} m1`, `warm ${user.id} m2`];

/**
 * The bot on a real Sentinel setup: one master, two replicas, three sentinels that ask for a
 * password of their own. Six users talk to it without pause while the master is killed (the
 * sentinels elect a replica) and, later, while the new master is failed over on purpose
 * (SENTINEL FAILOVER). The bot follows both by itself: every message is answered once, and the
 * conversations go on on the new master. What a killed master had not yet replicated may be lost
 * (Redis replicates asynchronously); what the replicas had acknowledged is kept.
 */
describe('the bot on Redis Sentinel, failed over under load', () => {
  let set: TestSentinelSet;
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
      turnLines(await ask(await set.master(), PASSWORD, 'LRANGE', `sb:history:{u:${user.id}}`, '0', '-1')),
  });

  beforeAll(async () => {
    [set, telegram, providers] = await Promise.all([
      startSentinelSet({ password: PASSWORD, sentinelPassword: SENTINEL_PASSWORD }),
      startFakeTelegramServer(),
      startFakeProviderServer(),
    ]);
    bot = await startPollingBot(
      telegram,
      botEnv(telegram, providers, [FIRST_PROVIDER, SECOND_PROVIDER], {
        ...SHORT_TIMEOUTS,
        // The host is not used: the sentinels name the master.
        REDIS_URL: `redis://:${PASSWORD}@127.0.0.1:1`,
        REDIS_SENTINELS: set.sentinelPorts.map((port) => `127.0.0.1:${port}`).join(','),
        REDIS_SENTINEL_NAME: set.masterName,
        REDIS_SENTINEL_PASSWORD: SENTINEL_PASSWORD,
        RATE_LIMIT_PER_MINUTE: '0',
        HISTORY_MAX_MESSAGES: '1000',
        STREAM_REPLIES: 'false',
      }),
    );
  }, 40_000);

  afterAll(async () => {
    await bot?.stop();
    await Promise.all([telegram?.stop(), providers?.stop(), set?.stop()]);
  });

  it('finds the master through the password-protected sentinels', async () => {
    expect(await askWithoutPassword(set.sentinelPorts[0]!, 'PING')).toMatch(/^-NOAUTH/);
    for (const user of [...users, ...quiet]) for (const text of warmUp(user)) await load.turn(user, text);
    const master = await set.master();
    expect(master).toBe(set.dataPorts[0]);
    for (const user of [...users, ...quiet]) {
      expect(turnLines(await ask(master, PASSWORD, 'LRANGE', `sb:history:{u:${user.id}}`, '0', '-1'))).toEqual(
        warmUp(user).flatMap((text) => [`user: ${text}`, `assistant: echo: ${text}`]),
      );
    }
    // Both replicas hold it: these writes outlive the master.
    expect(await waitForReplicas(master, PASSWORD)).toBe(2);
  });

  it('keeps answering while the master is killed and a replica is elected', async () => {
    const old = await set.master();
    let elected = old;
    await load.underLoad('kill', async () => {
      elected = await set.killMaster();
    });
    expect(elected).not.toBe(old);
  }, 40_000);

  it('keeps answering through a failover asked of the sentinels', async () => {
    const old = await set.master();
    let promoted = old;
    await load.underLoad('switch', async () => {
      promoted = await set.failover();
    });
    expect(promoted).not.toBe(old);
  }, 40_000);

  it('answered every message once, and the conversations go on on the new master', async () => {
    await load.expectConversationsKept(warmUp);
  }, 30_000);

  it('kept the bot up, back on Redis, and the passwords out of its output', () => {
    load.expectBackOnRedis([PASSWORD, SENTINEL_PASSWORD]);
  });
});
