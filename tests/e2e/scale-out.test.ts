import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Update } from 'grammy/types';
import { type FakeProviderServer, type RecordedRequest, startFakeProviderServer } from '../fakes/provider-server';
import { type FakeTelegramServer, startFakeTelegramServer, type UserInput } from '../fakes/telegram-server';
import {
  botEnv,
  crashRecords,
  envVar,
  FIRST_PROVIDER,
  KEYS,
  PROVIDER_NAMES,
  SECOND_PROVIDER,
  suspiciousTexts,
  turnsOf,
} from '../helpers/bot-harness';
import { type BotProcess, startBotProcess } from '../helpers/bot-process';
import { freePort, startTestRedis } from '../helpers/redis-server';
import { type RedisServers, startClusterSet } from '../helpers/redis-topologies';

/**
 * Scale-out: three webhook processes sharing one Redis, or one Redis Cluster of three shards
 * (each with a replica), behave as one bot. 300 updates from 22
 * chats are spread over them round-robin (each chat's consecutive updates reach different
 * processes), up to 40 deliveries at once as Telegram does, each chat's next update delivered once
 * the previous one was acknowledged. Then: no key goes over its limit, a user's rate limit holds
 * across processes, every chat's turns stay in order, and /stats in any process equals the sum of
 * what the providers received.
 */

const PROCESSES = 3;
const MAX_CONNECTIONS = 40; // Telegram's default max_connections for a webhook
/** The first provider's per-minute limit: the rest of the load falls over to the second. */
const FIRST_RPM = 20;
const RATE_LIMIT = 8;
const SECRET = 'scale-out-webhook-secret_0123456789';
const BOT = '@switchboard_test_bot';
const NOTICE = /^You're sending messages too fast\. Please wait \d+ s and try again\.$/;
const HELP = /^Send me any text/;

const admins: UserInput[] = [1, 2, 3, 4, 5].map((index) => ({
  id: 7000 + index,
  first_name: `Admin ${index}`,
  language_code: 'en',
}));
const chatty: UserInput = { id: 8001, first_name: 'Chatty', language_code: 'en' };
const light: UserInput[] = Array.from({ length: 15 }, (_, index) => ({
  id: 9001 + index,
  first_name: `Light ${index + 1}`,
  language_code: 'en',
}));
const group = { id: -1007000000001, title: 'Scale club' };

/** One chat's part of the traffic: who sends what, in order, and what the bot must answer, in order. */
interface ChatScript {
  readonly chatId: number;
  readonly messages: readonly { readonly from: UserInput; readonly text: string }[];
  readonly expectedReplies: readonly (string | RegExp)[];
}

const pad = (index: number): string => String(index).padStart(2, '0');

function scripts(): ChatScript[] {
  const result: ChatScript[] = [];
  // Five long private chats (admins: exempt from the per-user limit): 30 turns each.
  for (const [index, admin] of admins.entries()) {
    const texts = Array.from({ length: 30 }, (_, turn) => `a${index + 1} m${pad(turn + 1)}`);
    result.push({
      chatId: admin.id,
      messages: texts.map((text) => ({ from: admin, text })),
      expectedReplies: texts.map((text) => `echo: ${text}`),
    });
  }
  // A group where two admins take turns mentioning the bot: 20 turns, two conversations.
  const groupTexts = Array.from({ length: 20 }, (_, turn) => `g m${pad(turn + 1)}`);
  result.push({
    chatId: group.id,
    messages: groupTexts.map((text, turn) => ({ from: admins[turn % 2]!, text: `${BOT} ${text}` })),
    expectedReplies: groupTexts.map((text) => `echo: ${text}`),
  });
  // The chatty user: 39 messages in a minute and /help; RATE_LIMIT of them reach a provider.
  const chattyTexts = Array.from({ length: 39 }, (_, turn) => `c m${pad(turn + 1)}`);
  result.push({
    chatId: chatty.id,
    messages: [...chattyTexts, '/help'].map((text) => ({ from: chatty, text })),
    expectedReplies: [...chattyTexts.slice(0, RATE_LIMIT).map((text) => `echo: ${text}`), NOTICE, HELP],
  });
  // Fifteen light users, under the limit: 6 turns each.
  for (const [index, user] of light.entries()) {
    const texts = Array.from({ length: 6 }, (_, turn) => `l${index + 1} m${turn + 1}`);
    result.push({
      chatId: user.id,
      messages: texts.map((text) => ({ from: user, text })),
      expectedReplies: texts.map((text) => `echo: ${text}`),
    });
  }
  return result;
}

/** At most `limit` calls at once. */
function concurrencyLimit(limit: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  const queue: (() => void)[] = [];
  return async (task) => {
    if (active >= limit) await new Promise<void>((resolve) => queue.push(resolve));
    active++;
    try {
      return await task();
    } finally {
      active--;
      queue.shift()?.();
    }
  };
}

/** A small, fixed delay per text (0–21 ms): answers finish out of order unless order is kept. */
function delayFor(text: string): number {
  let hash = 0;
  for (const character of text) hash = (hash * 31 + (character.codePointAt(0) ?? 0)) % 1009;
  return (hash % 4) * 7;
}

/** The provider-costing turns a conversation had, in the order sent. */
function conversations(all: readonly ChatScript[]): Map<string, string[]> {
  const result = new Map<string, string[]>();
  for (const script of all) {
    for (const { from, text } of script.messages) {
      if (text.startsWith('/')) continue;
      const key = script.chatId === group.id ? `group:${from.id}` : `private:${from.id}`;
      const question = text.replace(BOT, '').trim();
      result.set(key, [...(result.get(key) ?? []), question]);
    }
  }
  return result;
}

/** Where the processes keep their shared state: REDIS_URL alone, or a Cluster's nodes besides it. */
async function startRedis(kind: 'single' | 'cluster'): Promise<{ servers: RedisServers; env: Record<string, string> }> {
  if (kind === 'single') {
    const redis = await startTestRedis();
    return { servers: redis, env: { REDIS_URL: redis.url } };
  }
  const cluster = await startClusterSet({ masters: 3, replicasPerMaster: 1 });
  return {
    servers: cluster,
    env: {
      REDIS_URL: 'redis://127.0.0.1:1', // its host is not used
      REDIS_CLUSTER_NODES: cluster.ports.map((port) => `127.0.0.1:${port}`).join(','),
    },
  };
}

describe.each([
  ['one Redis', 'single'],
  ['a Redis Cluster', 'cluster'],
] as const)('three webhook processes sharing %s', (_name, kind) => {
  let telegram: FakeTelegramServer;
  let providers: FakeProviderServer;
  let redis: { servers: RedisServers; env: Record<string, string> };
  const bots: BotProcess[] = [];
  const urls: string[] = [];
  const traffic = scripts();

  beforeAll(async () => {
    [telegram, providers, redis] = await Promise.all([
      startFakeTelegramServer({ allowHttpWebhooks: true }),
      startFakeProviderServer(),
      startRedis(kind),
    ]);
    providers.setHandler((request) => {
      const question = request.messages.at(-1)?.content ?? '';
      return { type: 'reply', text: `echo: ${question}`, delayMs: delayFor(question) };
    });
    const ports = await Promise.all(Array.from({ length: PROCESSES }, () => freePort()));
    for (const port of ports) {
      const url = `http://127.0.0.1:${port}/hook`;
      urls.push(url);
      bots.push(
        startBotProcess(
          botEnv(telegram, providers, [FIRST_PROVIDER, SECOND_PROVIDER], {
            ...redis.env,
            WEBHOOK_URL: url,
            WEBHOOK_SECRET: SECRET,
            PORT: String(port),
            ADMIN_IDS: admins.map((admin) => admin.id).join(','),
            RATE_LIMIT_PER_MINUTE: String(RATE_LIMIT),
            [envVar(FIRST_PROVIDER, 'RPM')]: String(FIRST_RPM),
            HISTORY_MAX_MESSAGES: '1000',
            STREAM_REPLIES: 'false',
            LOG_LEVEL: 'info',
          }),
        ),
      );
    }
    await Promise.all(bots.map((bot) => bot.waitForLog((record) => record.msg === 'webhook server started', 20_000)));
  }, 30_000);

  afterAll(async () => {
    await Promise.all(bots.map((bot) => bot.stop()));
    await Promise.all([telegram?.stop(), providers?.stop(), redis?.servers.stop()]);
  });

  it('handles 300 updates spread over the processes as one bot would', async () => {
    expect(traffic.reduce((sum, script) => sum + script.messages.length, 0)).toBe(300);
    const deliver = concurrencyLimit(MAX_CONNECTIONS);
    const receivedBy = new Map<number, number>();
    let inFlight = 0;
    let mostInFlight = 0;
    await Promise.all(
      traffic.map(async (script, chatIndex) => {
        for (const [turn, { from, text }] of script.messages.entries()) {
          const update: Update = telegram.sendText(from, text, script.chatId === group.id ? { chat: group } : {});
          // Round-robin per chat: consecutive updates of a chat always reach different processes.
          const target = (chatIndex + turn) % PROCESSES;
          receivedBy.set(target, (receivedBy.get(target) ?? 0) + 1);
          const status = await deliver(async () => {
            mostInFlight = Math.max(mostInFlight, ++inFlight);
            try {
              return await telegram.deliverWebhook(urls[target]!, update);
            } finally {
              inFlight--;
            }
          });
          expect(status).toBe(200);
        }
      }),
    );
    expect(receivedBy.size).toBe(PROCESSES);
    for (const count of receivedBy.values()) expect(count).toBeGreaterThanOrEqual(90);
    expect(mostInFlight).toBeGreaterThan(PROCESSES);

    // Every chat's last reply: all 300 handled.
    await telegram.waitFor(
      () => traffic.every((script) => telegram.messagesIn(script.chatId).length >= script.expectedReplies.length),
      {
        since: 0,
        timeoutMs: 20_000,
        description: 'every reply',
      },
    );

    // (c) The replies in each chat come in the order the messages were sent.
    for (const script of traffic) {
      const replies = telegram.messagesIn(script.chatId).map((message) => message.text);
      expect(replies).toHaveLength(script.expectedReplies.length);
      script.expectedReplies.forEach((expected, index) => {
        if (typeof expected === 'string') expect(replies[index]).toBe(expected);
        else expect(replies[index]).toMatch(expected);
      });
    }

    // (c) The provider saw each conversation's history grow in exactly the order sent.
    const byQuestion = new Map<string, RecordedRequest>();
    for (const request of providers.requests) {
      const question = request.messages.at(-1)?.content ?? '';
      expect(byQuestion.has(question)).toBe(false); // each turn reached a provider once
      byQuestion.set(question, request);
    }
    for (const [conversation, questions] of conversations(traffic)) {
      const answered = conversation === `private:${chatty.id}` ? questions.slice(0, RATE_LIMIT) : questions;
      const history: string[] = [];
      let previousIndex = -1;
      for (const question of answered) {
        const request = byQuestion.get(question);
        expect(turnsOf(request)).toEqual([...history, `user: ${question}`]);
        expect(request!.index).toBeGreaterThan(previousIndex);
        previousIndex = request!.index;
        history.push(`user: ${question}`, `assistant: echo: ${question}`);
      }
    }

    // (b) The chatty user's limit held across the three processes: RATE_LIMIT calls, one notice.
    const chattyCalls = providers.requests.filter((request) => request.messages.at(-1)?.content.startsWith('c m'));
    expect(chattyCalls).toHaveLength(RATE_LIMIT);
    expect(telegram.messagesIn(chatty.id).filter((message) => NOTICE.test(message.text))).toHaveLength(1);

    // (a) The first provider's key never took more than FIRST_RPM a minute (the run is shorter
    // than a minute); the rest fell over to the second provider.
    const first = providers.requestsFor(FIRST_PROVIDER);
    const second = providers.requestsFor(SECOND_PROVIDER);
    expect(first.every((request) => request.apiKey === KEYS[FIRST_PROVIDER])).toBe(true);
    expect(first.length).toBeLessThanOrEqual(FIRST_RPM);
    expect(first.length).toBeGreaterThan(0);
    expect(first.at(-1)!.receivedAt - first[0]!.receivedAt).toBeLessThan(60_000);
    expect(first.length + second.length).toBe(150 + 20 + RATE_LIMIT + 90);
    expect(providers.requests).toHaveLength(first.length + second.length);

    // Every process did its share of the work.
    for (const bot of bots) {
      expect(bot.records().filter((record) => record.msg === 'answered').length).toBeGreaterThan(30);
    }
  }, 30_000);

  it('shows the totals of all processes in /stats, from any process', async () => {
    const expected = {
      [FIRST_PROVIDER]: providers.requestsFor(FIRST_PROVIDER).length,
      [SECOND_PROVIDER]: providers.requestsFor(SECOND_PROVIDER).length,
    };
    const statsFrom = async (url: string): Promise<Record<string, number>> => {
      const since = telegram.mark();
      const update = telegram.sendText(admins[0]!, '/stats');
      expect(await telegram.deliverWebhook(url, update)).toBe(200);
      const stats = await telegram.waitForMessage(admins[0]!.id, (message) => message.text.startsWith('📊'), {
        since,
        timeoutMs: 10_000,
      });
      return requestsPerProvider(stats.text);
    };
    // Each process writes its stats to Redis within 25 ms of recording them (in batches): the last
    // answers' counts may still be on their way when the first /stats is asked. Asked again until
    // they arrive (each ask is a full round trip through a process; at most 50 of them).
    let first = await statsFrom(urls[0]!);
    for (let attempt = 1; attempt < 50 && !isDeepStrictEqual(first, expected); attempt++) {
      first = await statsFrom(urls[0]!);
    }
    expect(first).toEqual(expected);
    // Then every process shows the same totals.
    for (const url of urls.slice(1)) expect(await statsFrom(url)).toEqual(expected);
  });

  it('keeps every process healthy and the secrets out of the logs', () => {
    expect(suspiciousTexts(telegram)).toEqual([]);
    for (const bot of bots) {
      expect(crashRecords(bot)).toEqual([]);
      expect(bot.records().filter((record) => String(record.msg).includes('did not finish in time'))).toEqual([]);
      // Every store stayed shared: no command was refused (on a Cluster, for keys of different slots).
      expect(bot.records().filter((record) => String(record.msg).startsWith('Redis is unavailable'))).toEqual([]);
      for (const line of bot.lines) expect(line).not.toContain(SECRET);
    }
  });
});

/** A line of /stats that starts a provider's section: its name, then a space. */
const PROVIDER_HEADER = new RegExp(`^(${PROVIDER_NAMES.map((name) => name.replace(/[^\w]/g, '\\$&')).join('|')}) `);

/** `{ <first>: 20, <second>: 248 }` from the /stats text: each provider's header, then its request count. */
function requestsPerProvider(text: string): Record<string, number> {
  const lines = text.split('\n');
  const result: Record<string, number> = {};
  lines.forEach((line, index) => {
    const name = PROVIDER_HEADER.exec(line)?.[1];
    const count = /^(\d+) requests/.exec(lines[index + 1] ?? '')?.[1];
    if (name !== undefined && count !== undefined) result[name] = Number(count);
  });
  return result;
}
