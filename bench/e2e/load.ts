import { performance } from 'node:perf_hooks';
import type { ApiCall, FakeTelegramServer, UserInput } from '../../tests/fakes/telegram-server';

/**
 * Simulated users and the clock of the end-to-end benchmark. A message is timed from the moment
 * it is injected into the fake Telegram server (as a user sending it) to the moment the fake has
 * answered the bot's sendMessage in that chat: the final reply, as the user would see it. Each
 * user has at most one message waiting for an answer.
 */

export interface Exchange {
  readonly latencyMs: number;
  /** The reply carried the question back (the fake provider echoes it; the echo bot repeats it). */
  readonly ok: boolean;
  /** When the reply came (performance.now()). */
  readonly repliedAt: number;
  /** From injection to the getUpdates answer that first carried the message to the bot. */
  readonly deliveredMs: number | undefined;
  /** From injection to the provider's receiving the request, and to its answering it. */
  readonly providerStartMs: number | undefined;
  readonly providerEndMs: number | undefined;
}

interface Waiting {
  readonly chatId: number;
  readonly sentAt: number;
  readonly question: string;
  readonly done: (exchange: Exchange | undefined) => void;
  deliveredAt?: number;
  providerStartAt?: number;
  providerEndAt?: number;
}

interface UpdateLike {
  readonly message?: { readonly chat?: { readonly id?: number } };
}

export class ReplyTracker {
  private readonly waiting = new Map<number, Waiting>();
  private readonly byQuestion = new Map<string, Waiting>();
  private readonly unsubscribe: () => void;
  /** sendMessage calls to a chat with no message waiting (a second notice, a duplicate answer). */
  unexpected = 0;
  /** getUpdates calls answered so far (long polls and short ones). */
  polls = 0;

  constructor(private readonly telegram: FakeTelegramServer) {
    this.unsubscribe = telegram.onCall((call) => this.seen(call));
  }

  /** Messages sent and not answered yet. */
  get outstanding(): number {
    return this.waiting.size;
  }

  /** Sends `question` as `user` in their private chat; resolves when the bot's final reply arrives. */
  ask(user: UserInput, question: string): Promise<Exchange | undefined> {
    if (this.waiting.has(user.id)) throw new Error(`user ${user.id} already waits for an answer`);
    return new Promise((done) => {
      const waiting: Waiting = { chatId: user.id, sentAt: performance.now(), question, done };
      this.waiting.set(user.id, waiting);
      this.byQuestion.set(question, waiting);
      this.telegram.sendText(user, question);
    });
  }

  /** The fake provider received a request whose last message is `question` (or answered it, `end`). */
  providerSaw(question: string, moment: 'start' | 'end'): void {
    const waiting = this.byQuestion.get(question);
    if (waiting === undefined) return;
    if (moment === 'start') waiting.providerStartAt ??= performance.now();
    else waiting.providerEndAt ??= performance.now();
  }

  /** Gives up on every message still waiting (they resolve `undefined`). */
  abandon(): number {
    const count = this.waiting.size;
    for (const waiting of this.waiting.values()) waiting.done(undefined);
    this.waiting.clear();
    this.byQuestion.clear();
    return count;
  }

  close(): void {
    this.abandon();
    this.unsubscribe();
  }

  private seen(call: ApiCall): void {
    if (!call.ok) return;
    if (call.method === 'getUpdates') {
      this.polls++;
      this.delivered(call);
      return;
    }
    if (call.method !== 'sendMessage') return;
    const chatId = Number(call.params.chat_id);
    const waiting = this.waiting.get(chatId);
    if (waiting === undefined) {
      this.unexpected++;
      return;
    }
    this.waiting.delete(chatId);
    this.byQuestion.delete(waiting.question);
    const now = performance.now();
    const since = (moment: number | undefined): number | undefined =>
      moment === undefined ? undefined : moment - waiting.sentAt;
    waiting.done({
      latencyMs: now - waiting.sentAt,
      ok: String(call.params.text ?? '').includes(waiting.question),
      repliedAt: now,
      deliveredMs: since(waiting.deliveredAt),
      providerStartMs: since(waiting.providerStartAt),
      providerEndMs: since(waiting.providerEndAt),
    });
  }

  private delivered(call: ApiCall): void {
    const updates = call.response?.ok === true ? call.response.result : undefined;
    if (!Array.isArray(updates)) return;
    const now = performance.now();
    for (const update of updates as UpdateLike[]) {
      const chatId = update.message?.chat?.id;
      const waiting = chatId === undefined ? undefined : this.waiting.get(chatId);
      if (waiting !== undefined) waiting.deliveredAt ??= now;
    }
  }
}

/** User number `index` (ids far from anything a test uses). */
export function simulatedUser(index: number): UserInput {
  return { id: 700_000_000 + index, first_name: `User ${index}`, language_code: 'en' };
}

export interface LoadOutcome {
  readonly exchanges: Exchange[];
  /** Messages that got no answer before the phase's deadline. */
  readonly missing: number;
  readonly startedAt: number;
  readonly endedAt: number;
}

/**
 * Closed loop: `users` users each send `messagesPerUser` messages, the next one as soon as the
 * previous one is answered. The bot always has `users` messages waiting: its full speed.
 */
export async function closedLoop(
  tracker: ReplyTracker,
  options: { users: number; messagesPerUser: number; firstUser?: number; tag: string; deadlineMs: number },
): Promise<LoadOutcome> {
  const exchanges: Exchange[] = [];
  const startedAt = performance.now();
  const deadline = startedAt + options.deadlineMs;
  const userLoop = async (index: number): Promise<void> => {
    const user = simulatedUser((options.firstUser ?? 0) + index);
    for (let message = 0; message < options.messagesPerUser && performance.now() < deadline; message++) {
      const exchange = await tracker.ask(user, `${options.tag} u${user.id} m${message}`);
      if (exchange === undefined) return;
      exchanges.push(exchange);
    }
  };
  const timer = setTimeout(() => tracker.abandon(), options.deadlineMs);
  await Promise.all(Array.from({ length: options.users }, (_, index) => userLoop(index)));
  clearTimeout(timer);
  return {
    exchanges,
    missing: options.users * options.messagesPerUser - exchanges.length,
    startedAt,
    endedAt: performance.now(),
  };
}

/**
 * Open loop: `ratePerSecond` messages a second for `seconds`, each from the next of `users` users
 * in turn, whatever the bot does; then waits (up to `drainMs`) for the last answers.
 */
export async function openLoop(
  tracker: ReplyTracker,
  options: { users: number; ratePerSecond: number; seconds: number; tag: string; drainMs: number },
): Promise<LoadOutcome> {
  const total = Math.max(1, Math.round(options.ratePerSecond * options.seconds));
  const pending: Promise<void>[] = [];
  const exchanges: Exchange[] = [];
  const startedAt = performance.now();
  for (let sent = 0; sent < total; ) {
    const due = Math.min(total, Math.floor(((performance.now() - startedAt) / 1000) * options.ratePerSecond) + 1);
    for (; sent < due; sent++) {
      const user = simulatedUser(sent % options.users);
      try {
        pending.push(
          tracker.ask(user, `${options.tag} u${user.id} m${sent}`).then((exchange) => {
            if (exchange !== undefined) exchanges.push(exchange);
          }),
        );
      } catch {
        // This user's previous message is still unanswered (the bot is far behind): counted as missing.
      }
    }
    await sleep(2);
  }
  const timer = setTimeout(() => tracker.abandon(), options.drainMs);
  await Promise.all(pending);
  clearTimeout(timer);
  return { exchanges, missing: total - exchanges.length, startedAt, endedAt: performance.now() };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
