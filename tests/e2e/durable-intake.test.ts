import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { en } from '../../bot/locales/en';
import { type FakeProviderServer, startFakeProviderServer } from '../fakes/provider-server';
import { type FakeTelegramServer, startFakeTelegramServer, type UserInput } from '../fakes/telegram-server';
import { botEnv, crashRecords, envVar, FIRST_PROVIDER, until } from '../helpers/bot-harness';
import { type BotProcess, startBotProcess } from '../helpers/bot-process';
import { startTestRedis, type TestRedis } from '../helpers/redis-server';
import { connectInspector, storedTurns } from '../helpers/stored-history';

/**
 * The durable intake (docs/architecture.md, "Intake"): with Redis, one process polls Telegram and
 * queues the updates in a Redis Stream, and every process handles them from it. Three polling
 * processes share one Redis here; they are killed with SIGKILL under load, and a poison update
 * and a Redis restart are thrown at them. Timing is judged by events (log lines, calls), never by
 * sleeping.
 */

const describeRedis = process.env.TEST_REDIS_URL ? describe.skip : describe;
const POLLS = 'this process now polls Telegram for updates';
const STOPS_POLLING = 'this process no longer polls Telegram';
/** The intake queue's stream and consumer group (storage/redis/update-queue.ts). */
const STREAM = 'sb:{intake}:updates';
const GROUP = 'workers';

function unlimitedEnv(telegram: FakeTelegramServer, providers: FakeProviderServer, redis: TestRedis) {
  return botEnv(telegram, providers, [FIRST_PROVIDER], {
    STREAM_REPLIES: 'false',
    REDIS_URL: redis.url,
    RATE_LIMIT_PER_MINUTE: '0',
    INTAKE_RECLAIM_IDLE_MS: '1500',
    [envVar(FIRST_PROVIDER, 'RPM')]: '0',
    [envVar(FIRST_PROVIDER, 'RPD')]: '0',
    [envVar(FIRST_PROVIDER, 'TPM')]: '0',
    [envVar(FIRST_PROVIDER, 'TPD')]: '0',
  });
}

async function startProcess(env: Record<string, string>): Promise<BotProcess> {
  const bot = startBotProcess(env);
  await Promise.race([
    bot.waitForLog((record) => record.msg === 'long polling started', 15_000),
    bot.exited.then((code) => {
      throw new Error(`the bot exited with ${code}:\n${bot.lines.slice(-15).join('\n')}`);
    }),
  ]);
  return bot;
}

/** A Redis on a free port (with a connection to look into it), the fake Telegram and the fake providers. */
async function startFakes(): Promise<{
  redis: TestRedis;
  telegram: FakeTelegramServer;
  providers: FakeProviderServer;
  inspector: Redis;
}> {
  const [redis, telegram, providers] = await Promise.all([
    startTestRedis(),
    startFakeTelegramServer(),
    startFakeProviderServer(),
  ]);
  return { redis, telegram, providers, inspector: await connectInspector(redis.url) };
}

/** Whether the process polls now (it said so last). */
function polls(bot: BotProcess): boolean {
  const changes = bot.records().filter((record) => record.msg === POLLS || record.msg === STOPS_POLLING);
  return changes.at(-1)?.msg === POLLS && bot.child.exitCode === null && bot.child.signalCode === null;
}

/** Update ids a process logged as answered. */
function answeredBy(bot: BotProcess): number[] {
  return bot
    .records()
    .filter((record) => record.msg === 'answered')
    .map((record) => Number(record.update_id));
}

/** The bot's messages in a chat, as text, oldest first. */
function botTexts(telegram: FakeTelegramServer, chatId: number): string[] {
  return telegram
    .messagesIn(chatId)
    .filter((message) => message.fromBot)
    .map((message) => message.text);
}

const users = (base: number, count: number): UserInput[] =>
  Array.from({ length: count }, (_, index) => ({ id: base + index, first_name: `User ${index}`, language_code: 'en' }));

describeRedis('durable intake: three polling processes on one Redis', () => {
  let redis: TestRedis;
  let inspector: Redis;
  let telegram: FakeTelegramServer;
  let providers: FakeProviderServer;
  let env: Record<string, string>;
  const bots: BotProcess[] = [];

  beforeAll(async () => {
    ({ redis, telegram, providers, inspector } = await startFakes());
    providers.setHandler((request) => ({
      type: 'reply',
      text: `echo: ${request.messages.at(-1)?.content ?? ''}`,
      delayMs: 150,
    }));
    env = unlimitedEnv(telegram, providers, redis);
    for (let index = 0; index < 3; index++) bots.push(await startProcess(env));
    await until(() => bots.some(polls), 'a process to poll', 10_000);
  }, 60_000);
  afterAll(async () => {
    await Promise.all(bots.map((bot) => bot.stop()));
    inspector?.disconnect();
    await Promise.all([telegram?.stop(), providers?.stop(), redis?.stop()]);
  });

  /** Sends `perChat` messages from each user, all at once, and waits until each chat has `perChat` answers. */
  async function load(chats: readonly UserInput[], perChat: number, label: string, timeoutMs = 20_000) {
    for (let turn = 1; turn <= perChat; turn++) {
      for (const user of chats) telegram.sendText(user, `${label} ${user.id} m${turn}`);
    }
    await until(
      () => chats.every((user) => telegram.messagesIn(user.id).filter((message) => message.fromBot).length >= perChat),
      `${chats.length * perChat} answers`,
      timeoutMs,
    );
  }

  it('has exactly one process polling, and every process handling updates, each chat in order', async () => {
    expect(bots.filter(polls)).toHaveLength(1);
    const chats = users(20_000, 30);
    await load(chats, 5, 'order');
    for (const user of chats) {
      const replies = botTexts(telegram, user.id);
      expect(replies).toEqual([1, 2, 3, 4, 5].map((turn) => `echo: order ${user.id} m${turn}`));
      // Each answer saw the turns before it, stored by whichever process handled them.
      const turns = await storedTurns(inspector, `u:${user.id}`);
      expect(turns.filter((turn) => turn.startsWith('user:'))).toEqual(
        [1, 2, 3, 4, 5].map((turn) => `user: order ${user.id} m${turn}`),
      );
    }
    // The work is shared: every process answered some of it.
    for (const bot of bots) expect(answeredBy(bot).length).toBeGreaterThan(0);
    expect(bots.filter(polls)).toHaveLength(1);
  }, 60_000);

  it('answers every update exactly once when a handling process is killed with SIGKILL under load', async () => {
    providers.setHandler((request) => ({
      type: 'reply',
      text: `echo: ${request.messages.at(-1)?.content ?? ''}`,
      delayMs: 600,
    }));
    const victim = bots.find((bot) => !polls(bot))!;
    const chats = users(21_000, 40);
    for (const user of chats) telegram.sendText(user, `kill ${user.id} m1`);
    for (const user of chats) telegram.sendText(user, `kill ${user.id} m2`);
    // Kill it in the middle of the load: with half of it asked of the provider.
    const asked = () =>
      providers.requests.filter((request) => String(request.messages.at(-1)?.content).startsWith('kill'));
    await until(() => asked().length >= 40, 'the load to be under way', 15_000);
    expect(await victim.stop('SIGKILL')).toBeNull();

    await until(
      () => chats.every((user) => telegram.messagesIn(user.id).filter((message) => message.fromBot).length >= 2),
      'every message answered',
      30_000,
    );
    // What the killed process held was taken over by the others.
    const tookOver = (bot: BotProcess) =>
      bot.records().some((record) => record.msg === 'took over updates another process left unfinished');
    expect(bots.some((bot) => bot !== victim && tookOver(bot))).toBe(true);
    let extraReplies = 0;
    for (const user of chats) {
      const replies = botTexts(telegram, user.id);
      // In order; a reply twice only if the killed process had sent it and died before its acknowledgement.
      expect([...new Set(replies)]).toEqual([`echo: kill ${user.id} m1`, `echo: kill ${user.id} m2`]);
      extraReplies += replies.length - 2;
      // The history holds each turn once.
      const turns = await storedTurns(inspector, `u:${user.id}`);
      expect(turns).toEqual([
        `user: kill ${user.id} m1`,
        `assistant: echo: kill ${user.id} m1`,
        `user: kill ${user.id} m2`,
        `assistant: echo: kill ${user.id} m2`,
      ]);
    }
    // A reply is sent twice only if the process died between sending it and writing its
    // acknowledgement: one Redis round trip (README, "Modes and scaling").
    expect(extraReplies).toBeLessThanOrEqual(1);
    for (const bot of bots.filter((bot) => bot !== victim)) expect(crashRecords(bot)).toEqual([]);
    bots.splice(bots.indexOf(victim), 1, await startProcess(env));
  }, 90_000);

  it('has another process poll within 10 s when the poller is killed, losing nothing', async () => {
    providers.setHandler((request) => ({ type: 'reply', text: `echo: ${request.messages.at(-1)?.content ?? ''}` }));
    const poller = bots.find(polls)!;
    const killedAt = Date.now();
    expect(await poller.stop('SIGKILL')).toBeNull();
    const chats = users(22_000, 10);
    for (const user of chats) telegram.sendText(user, `takeover ${user.id}`);
    const others = bots.filter((bot) => bot !== poller);
    await until(() => others.some(polls), 'another process to poll', 10_000);
    expect(Date.now() - killedAt).toBeLessThan(10_000);
    await until(
      () => chats.every((user) => telegram.messagesIn(user.id).some((message) => message.fromBot)),
      'the messages sent meanwhile answered',
      15_000,
    );
    for (const user of chats) {
      expect(botTexts(telegram, user.id)).toEqual([`echo: takeover ${user.id}`]);
    }
    expect(others.filter(polls)).toHaveLength(1);
    bots.splice(bots.indexOf(poller), 1, await startProcess(env));
  }, 60_000);

  it('sets a poison update aside after three tries and tells its user once, then goes on', async () => {
    const user = { id: 23_001, first_name: 'Poison', language_code: 'en' };
    // A message whose text is not text: the handling throws on it every time.
    const poison = telegram.pushUpdate({
      message: {
        message_id: 990_001,
        date: Math.floor(Date.now() / 1000),
        chat: { id: user.id, type: 'private', first_name: user.first_name },
        from: { id: user.id, is_bot: false, first_name: user.first_name, language_code: 'en' },
        text: 12345,
      } as never,
    });
    await until(() => telegram.messagesIn(user.id).some((message) => message.fromBot), 'the user to be told', 15_000);
    const dead = (await inspector.xrange('sb:{intake}:dead', '-', '+')).map(([, fields]) => fields);
    expect(dead.some((fields) => fields[fields.indexOf('u') + 1] === String(poison.update_id))).toBe(true);
    // The chat goes on: the next message is answered, and the user was told once.
    telegram.sendText(user, 'and now a normal one');
    await until(
      () => telegram.messagesIn(user.id).some((message) => message.text === 'echo: and now a normal one'),
      'the next message answered',
      10_000,
    );
    expect(botTexts(telegram, user.id)).toEqual([en.errors.setAside, 'echo: and now a normal one']);
    // Nothing is left in the queue once the last acknowledgement is written (just after the answer).
    let left = -1;
    for (let tries = 0; tries < 100 && left !== 0; tries++) {
      left = await inspector.xlen('sb:{intake}:updates');
      if (left !== 0) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(left).toBe(0);
  }, 60_000);
});

describeRedis('durable intake: Redis restarted while updates are queued', () => {
  let redis: TestRedis;
  let telegram: FakeTelegramServer;
  let providers: FakeProviderServer;

  beforeAll(async () => {
    [redis, telegram, providers] = await Promise.all([
      startTestRedis({ persistent: true }),
      startFakeTelegramServer(),
      startFakeProviderServer(),
    ]);
  });
  afterAll(async () => {
    await Promise.all([telegram?.stop(), providers?.stop(), redis?.stop()]);
  });

  it('loses none of them: the bot and Redis both restarted, every queued update is answered once', async () => {
    const env = unlimitedEnv(telegram, providers, redis);
    providers.setHandler(() => ({ type: 'hang' }));
    const first = await startProcess(env);
    await telegram.waitForPolling({ timeoutMs: 10_000 });
    const chats = users(24_000, 5);
    const sent = chats.map((user) => telegram.sendText(user, `queued ${user.id}`));
    // All five are queued and confirmed to Telegram: the bot asks the provider about each.
    await until(() => providers.requests.length >= 5, 'five requests in flight', 10_000);
    await until(() => telegram.updatesConfirmed() > sent.at(-1)!.update_id, 'the updates confirmed', 10_000);
    expect(await first.stop('SIGKILL')).toBeNull();
    await redis.kill();
    await redis.start();

    providers.setHandler((request) => ({ type: 'reply', text: `echo: ${request.messages.at(-1)?.content ?? ''}` }));
    const second = await startProcess(env);
    try {
      await until(
        () => chats.every((user) => telegram.messagesIn(user.id).some((message) => message.fromBot)),
        'every queued update answered',
        20_000,
      );
      for (const user of chats) {
        expect(botTexts(telegram, user.id)).toEqual([`echo: queued ${user.id}`]);
      }
      // They came back with Redis (its append-only file) and were taken over from the dead process.
      expect(
        second.records().some((record) => record.msg === 'took over updates another process left unfinished'),
      ).toBe(true);
      expect(crashRecords(second)).toEqual([]);
    } finally {
      await second.stop();
    }
  }, 60_000);
});

describeRedis('durable intake: INTAKE_CONCURRENCY', () => {
  let redis: TestRedis;
  let inspector: Redis;
  let telegram: FakeTelegramServer;
  let providers: FakeProviderServer;
  let bot: BotProcess;

  beforeAll(async () => {
    ({ redis, telegram, providers, inspector } = await startFakes());
    bot = await startProcess({ ...unlimitedEnv(telegram, providers, redis), INTAKE_CONCURRENCY: '2' });
  }, 30_000);
  afterAll(async () => {
    await bot?.stop();
    inspector?.disconnect();
    await Promise.all([telegram?.stop(), providers?.stop(), redis?.stop()]);
  });

  it('handles at most that many updates at once; the rest wait in the queue and are all answered', async () => {
    const chats = users(30_000, 7);
    // The provider holds every request until the gate opens.
    const held: (() => void)[] = [];
    let open = false;
    let inProvider = 0;
    let most = 0;
    providers.setHandler(async (request) => {
      inProvider++;
      most = Math.max(most, inProvider);
      if (!open) await new Promise<void>((release) => held.push(release));
      inProvider--;
      return { type: 'reply', text: `echo: ${request.messages.at(-1)?.content ?? ''}` };
    });
    for (const user of chats) telegram.sendText(user, `slots ${user.id}`);
    // Every update is queued, and every one handed to the process has reached the provider (an
    // update of a chat with nothing before it goes straight there): two, with two slots.
    let queued = 0;
    let handedOut = -1;
    await until(
      () => {
        void Promise.all([inspector.xlen(STREAM), inspector.xpending(STREAM, GROUP)])
          .then(([length, pending]) => {
            queued = length;
            handedOut = Number((pending as [number])[0]);
          })
          .catch(() => undefined); // read again on the next turn
        return queued === chats.length && handedOut === held.length;
      },
      'every update queued and those handed out at the provider',
      10_000,
    );
    expect(held).toHaveLength(2);
    open = true;
    for (const release of held.splice(0)) release();
    await until(
      () => chats.every((user) => botTexts(telegram, user.id).length === 1),
      `${chats.length} answers`,
      20_000,
    );
    for (const user of chats) expect(botTexts(telegram, user.id)).toEqual([`echo: slots ${user.id}`]);
    expect(most).toBe(2);
    expect(crashRecords(bot)).toEqual([]);
  }, 30_000);
});
