import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { en } from '../../bot/locales/en';
import { type FakeProviderServer, startFakeProviderServer } from '../fakes/provider-server';
import { type FakeTelegramServer, startFakeTelegramServer, type UserInput } from '../fakes/telegram-server';
import {
  answered,
  botEnv,
  crashRecords,
  FIRST_PROVIDER,
  requestsEndingWith,
  SECOND_PROVIDER,
  SHORT_TIMEOUTS,
  startPollingBot,
  suspiciousTexts,
  turnsOf,
  until,
} from '../helpers/bot-harness';
import type { BotProcess } from '../helpers/bot-process';
import { ask, askWithoutPassword, startSentinelSet, type TestSentinelSet } from '../helpers/redis-topologies';

const PASSWORD = 'data-pass_0123456789';
const SENTINEL_PASSWORD = 'sentinel-pass_0123456789';

const users: UserInput[] = Array.from({ length: 6 }, (_, index) => ({
  id: 6300 + index,
  first_name: `Sentinel user ${index + 1}`,
  language_code: 'en',
}));

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
  /** Every text each user sent, in order. */
  const sent = new Map<number, string[]>(users.map((user) => [user.id, []]));

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

  async function turn(user: UserInput, text: string): Promise<void> {
    sent.get(user.id)!.push(text);
    await answered(bot, telegram.sendText(user, text), 15_000);
  }

  /**
   * Every user talks without pause while `during` runs, and on until their last exchange is stored
   * on the master the sentinels name (the bot is back on Redis), then for `after` more turns.
   */
  async function underLoad(label: string, during: () => Promise<unknown>, after = 2): Promise<void> {
    let done = false;
    const talk = async (user: UserInput): Promise<void> => {
      let index = 0;
      const next = async (): Promise<string> => {
        const text = `${label} ${user.id} m${++index}`;
        await turn(user, text);
        return text;
      };
      while (!done) await next();
      for (let tries = 0; ; tries++) {
        const text = await next();
        if ((await storedTurns(user)).at(-2) === `user: ${text}`) break;
        if (tries > 500) throw new Error(`the bot did not write ${user.first_name}'s history to the new master`);
      }
      for (let more = 0; more < after; more++) await next();
    };
    const talking = Promise.all(users.map(talk));
    // Under load: every user has had a few turns in this phase before the failover starts.
    await until(
      () => users.every((user) => sent.get(user.id)!.some((text) => text.endsWith(' m3') && text.startsWith(label))),
      'a few turns each',
    );
    await during();
    done = true;
    await talking;
  }

  const storedTurns = async (user: UserInput): Promise<string[]> => {
    const entries = (await ask(await set.master(), PASSWORD, 'LRANGE', `sb:history:{u:${user.id}}`, '0', '-1')) as
      | string[]
      | undefined;
    return (entries ?? []).map((entry) => {
      const { role, content } = JSON.parse(entry) as { role: string; content: string };
      return `${role}: ${content}`;
    });
  };

  it('finds the master through the password-protected sentinels', async () => {
    expect(await askWithoutPassword(set.sentinelPorts[0]!, 'PING')).toMatch(/^-NOAUTH/);
    for (const user of users) {
      await turn(user, `warm ${user.id} m1`);
      await turn(user, `warm ${user.id} m2`);
    }
    const master = await set.master();
    expect(master).toBe(set.dataPorts[0]);
    expect(await storedTurns(users[0]!)).toEqual([
      `user: warm ${users[0]!.id} m1`,
      `assistant: echo: warm ${users[0]!.id} m1`,
      `user: warm ${users[0]!.id} m2`,
      `assistant: echo: warm ${users[0]!.id} m2`,
    ]);
    // Both replicas hold it: these writes outlive the master.
    expect(await ask(master, PASSWORD, 'WAIT', '2', '5000')).toBe(2);
  });

  it('keeps answering while the master is killed and a replica is elected', async () => {
    const old = await set.master();
    let elected = 0;
    await underLoad('kill', async () => {
      elected = await set.killMaster();
    });
    expect(elected).not.toBe(old);
  }, 40_000);

  it('keeps answering through a failover asked of the sentinels', async () => {
    const old = await set.master();
    let promoted = 0;
    await underLoad('switch', async () => {
      promoted = await set.failover();
    });
    expect(promoted).not.toBe(old);
  }, 40_000);

  it('answered every message once, and the conversations go on on the new master', async () => {
    for (const user of users) {
      const texts = sent.get(user.id)!;
      const replies = telegram.messagesIn(user.id).filter((message) => message.fromBot);
      // One answer per message, in order; besides them only the notice that a turn could not be kept.
      expect(replies.filter((reply) => reply.text.startsWith('echo: ')).map((reply) => reply.text)).toEqual(
        texts.map((text) => `echo: ${text}`),
      );
      for (const reply of replies.filter((message) => !message.text.startsWith('echo: '))) {
        expect(reply.text).toBe(en.historyUnavailable);
      }

      await turn(user, `last ${user.id} m1`);
      await turn(user, `last ${user.id} m2`);
      // History is read from the new master: the last question came with the one before it.
      expect(turnsOf(requestsEndingWith(providers, `last ${user.id} m2`)[0]).slice(-3)).toEqual([
        `user: last ${user.id} m1`,
        `assistant: echo: last ${user.id} m1`,
        `user: last ${user.id} m2`,
      ]);

      // What the new master holds: the replicated warm-up first, then exchanges whole and in the
      // order sent (some of those written around the failovers may be missing), the last ones last.
      const stored = await storedTurns(user);
      expect(stored.slice(0, 4)).toEqual([
        `user: warm ${user.id} m1`,
        `assistant: echo: warm ${user.id} m1`,
        `user: warm ${user.id} m2`,
        `assistant: echo: warm ${user.id} m2`,
      ]);
      expect(stored.slice(-2)).toEqual([`user: last ${user.id} m2`, `assistant: echo: last ${user.id} m2`]);
      const questions = stored.filter((line) => line.startsWith('user: ')).map((line) => line.slice(6));
      expect(stored).toEqual(questions.flatMap((question) => [`user: ${question}`, `assistant: echo: ${question}`]));
      const order = questions.map((question) => texts.indexOf(question));
      expect(order.every((index, position) => index >= 0 && (position === 0 || index > order[position - 1]!))).toBe(
        true,
      );
    }
  }, 30_000);

  it('kept the bot up, back on Redis, and the passwords out of its output', () => {
    // The killed master was noticed (commands failed) and each store went back to Redis after it.
    const states = bot.records().filter((record) => String(record.msg).startsWith('Redis is '));
    expect(states.some((record) => record.msg === 'Redis is back: shared state resumed')).toBe(true);
    for (const what of new Set(states.map((record) => record.what))) {
      expect(states.filter((record) => record.what === what).at(-1)?.msg).toBe('Redis is back: shared state resumed');
    }
    expect(bot.child.exitCode).toBeNull();
    expect(crashRecords(bot)).toEqual([]);
    expect(suspiciousTexts(telegram)).toEqual([]);
    for (const line of bot.lines) {
      expect(line).not.toContain(PASSWORD);
      expect(line).not.toContain(SENTINEL_PASSWORD);
    }
  });
});
