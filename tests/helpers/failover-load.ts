import { expect } from '@jest/globals';
import { en } from '../../bot/locales/en';
import type { FakeProviderServer } from '../fakes/provider-server';
import type { FakeTelegramServer, UserInput } from '../fakes/telegram-server';
import { answered, crashRecords, requestsEndingWith, suspiciousTexts, turnsOf, until } from './bot-harness';
import type { BotProcess } from './bot-process';

/**
 * What the Redis failover suites share: users talking to a polling bot without pause while a
 * Redis master is failed over (and quiet users who only talk before and after), and the checks
 * that follow. `storedTurns(user)` reads the user's
 * conversation (`role: content` lines) from wherever the topology keeps it now.
 */
export interface FailoverLoad {
  /** Every text each user sent, in order. */
  readonly sent: ReadonlyMap<number, readonly string[]>;
  /** Sends `text` and waits until the bot has answered it. */
  turn(user: UserInput, text: string): Promise<void>;
  /**
   * Every user talks without pause while `during` runs, then on until their last exchange is
   * stored where `storedTurns` looks (the bot is back on Redis), then for `after` more turns.
   */
  underLoad(label: string, during: () => Promise<unknown>, after?: number): Promise<void>;
  /**
   * After the failovers: every message was answered once, in order (besides the answers only the
   * notice that a turn could not be kept); two more turns each show history read back; each
   * stored conversation holds exchanges whole and in the order sent (some around a failover may
   * be missing, and the oldest may have been trimmed to HISTORY_MAX_MESSAGES) and ends with the
   * last one; a quiet user's holds exactly the warm-up turns (replicated before any failover) and
   * the last ones.
   */
  expectConversationsKept(warmUp: (user: UserInput) => readonly string[]): Promise<void>;
  /** The bot never crashed, leaked nothing odd to users, and every store ended back on Redis. */
  expectBackOnRedis(secrets: readonly string[]): void;
}

export function failoverLoad(options: {
  readonly bot: () => BotProcess;
  readonly telegram: () => FakeTelegramServer;
  readonly providers: () => FakeProviderServer;
  readonly users: readonly UserInput[];
  /** Users who talk only before the failovers and after them. */
  readonly quiet: readonly UserInput[];
  readonly storedTurns: (user: UserInput) => Promise<string[]>;
}): FailoverLoad {
  const { users, quiet, storedTurns } = options;
  const sent = new Map<number, string[]>([...users, ...quiet].map((user) => [user.id, []]));
  const turn = async (user: UserInput, text: string): Promise<void> => {
    sent.get(user.id)!.push(text);
    await answered(options.bot(), options.telegram().sendText(user, text), 15_000);
  };

  return {
    sent,
    turn,
    underLoad: async (label, during, after = 2) => {
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
          if (tries > 500) throw new Error(`the bot did not write ${user.first_name}'s history to Redis again`);
        }
        for (let more = 0; more < after; more++) await next();
      };
      const talking = Promise.all(users.map(talk));
      // Under load: every user has had a few turns in this phase before the failover starts.
      await until(
        () => users.every((user) => sent.get(user.id)!.includes(`${label} ${user.id} m3`)),
        'a few turns each',
      );
      try {
        await during();
      } catch (error) {
        // The failover did not happen: stop talking (quietly) and report that.
        done = true;
        await talking.catch(() => undefined);
        throw error;
      }
      done = true;
      await talking;
    },
    expectConversationsKept: async (warmUp) => {
      const telegram = options.telegram();
      for (const user of [...users, ...quiet]) {
        const texts = sent.get(user.id)!;
        const replies = telegram.messagesIn(user.id).filter((message) => message.fromBot);
        expect(replies.filter((reply) => reply.text.startsWith('echo: ')).map((reply) => reply.text)).toEqual(
          texts.map((text) => `echo: ${text}`),
        );
        for (const reply of replies.filter((message) => !message.text.startsWith('echo: '))) {
          expect(reply.text).toBe(en.historyUnavailable);
        }

        await turn(user, `last ${user.id} m1`);
        await turn(user, `last ${user.id} m2`);
        // History is read back: the last question came with the one before it.
        expect(turnsOf(requestsEndingWith(options.providers(), `last ${user.id} m2`)[0]).slice(-3)).toEqual([
          `user: last ${user.id} m1`,
          `assistant: echo: last ${user.id} m1`,
          `user: last ${user.id} m2`,
        ]);

        const stored = await storedTurns(user);
        if (quiet.includes(user)) {
          expect(stored).toEqual(
            [...warmUp(user), `last ${user.id} m1`, `last ${user.id} m2`].flatMap((text) => [
              `user: ${text}`,
              `assistant: echo: ${text}`,
            ]),
          );
          continue;
        }
        expect(stored.slice(-2)).toEqual([`user: last ${user.id} m2`, `assistant: echo: last ${user.id} m2`]);
        const questions = stored.filter((line) => line.startsWith('user: ')).map((line) => line.slice(6));
        expect(stored).toEqual(questions.flatMap((question) => [`user: ${question}`, `assistant: echo: ${question}`]));
        const order = questions.map((question) => texts.indexOf(question));
        expect(order.every((index, position) => index >= 0 && (position === 0 || index > order[position - 1]!))).toBe(
          true,
        );
      }
    },
    expectBackOnRedis: (secrets) => {
      const bot = options.bot();
      expect(bot.child.exitCode).toBeNull();
      expect(crashRecords(bot)).toEqual([]);
      expect(suspiciousTexts(options.telegram())).toEqual([]);
      // The killed master was noticed (commands failed), and each store went back to Redis after it.
      const states = bot.records().filter((record) => String(record.msg).startsWith('Redis is '));
      expect(states.some((record) => record.msg === 'Redis is back: shared state resumed')).toBe(true);
      for (const what of new Set(states.map((record) => record.what))) {
        expect(states.filter((record) => record.what === what).at(-1)?.msg).toBe('Redis is back: shared state resumed');
      }
      for (const line of bot.lines) for (const secret of secrets) expect(line).not.toContain(secret);
    },
  };
}

/** A stored conversation entry list (`LRANGE` of `sb:history:{…}`) as `role: content` lines. */
export function turnLines(entries: unknown): string[] {
  return ((entries as string[] | undefined) ?? []).map((entry) => {
    const { role, content } = JSON.parse(entry) as { role: string; content: string };
    return `${role}: ${content}`;
  });
}
