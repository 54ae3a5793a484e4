import type { InlineKeyboardMarkup, Update } from 'grammy/types';
import type { BotContext } from '../context';
import type { Messages } from '../locales';
import type { ChatReply } from '../services/chat';

/**
 * The buttons under an answer, as callback data (at most 64 bytes):
 *   `ans:r:<user id>:<answer tag>:<n>`  Regenerate: a new answer to the same question, preferably
 *                                   not from provider n (its place in the configured order);
 *   `ans:c:<user id>:<answer tag>`  Continue: more of an answer that stopped at the length limit;
 *   `ans:s:<user id>:<stream id>`   Stop: ends the answer streaming now.
 * The answer tag names the answer as stored (`ChatService`): a button under an answer that is no
 * longer the conversation's last one does nothing. Only the user who asked may press them.
 */
export type AnswerButton =
  | { readonly action: 'regenerate'; readonly userId: string; readonly answerTag: string; readonly provider?: number }
  | { readonly action: 'continue'; readonly userId: string; readonly answerTag: string }
  | { readonly action: 'stop'; readonly userId: string; readonly streamId: string };

const DATA = /^ans:([rcs]):(\d+):([\w-]{1,32})(?::(\d{1,2}))?$/;

export function parseAnswerButton(data: string): AnswerButton | undefined {
  const match = DATA.exec(data);
  if (match === null) return undefined;
  const [, action, userId = '', id = '', provider] = match;
  if (action === 's') return { action: 'stop', userId, streamId: id };
  if (action === 'c') return { action: 'continue', userId, answerTag: id };
  return {
    action: 'regenerate',
    userId,
    answerTag: id,
    ...(provider === undefined ? {} : { provider: Number(provider) }),
  };
}

/** A press of a Stop button: it must not wait in the chat's line behind the answer it stops. */
export function isStopPress(update: Update): boolean {
  return update.callback_query?.data?.startsWith('ans:s:') === true;
}

/**
 * Regenerate, and Continue when the answer stopped at the length limit. `provider`: the place of
 * the provider that answered in the configured order (a regenerated answer is asked elsewhere).
 */
export function answerMarkup(
  t: Messages,
  userId: number,
  answerTag: string,
  canContinue: boolean,
  provider: number | undefined,
): InlineKeyboardMarkup {
  const from = provider === undefined || provider < 0 || provider > 99 ? '' : `:${provider}`;
  return {
    inline_keyboard: [
      [
        { text: t.answerButtons.regenerate, callback_data: `ans:r:${userId}:${answerTag}${from}` },
        ...(canContinue ? [{ text: t.answerButtons.continue, callback_data: `ans:c:${userId}:${answerTag}` }] : []),
      ],
    ],
  };
}

export function stopMarkup(t: Messages, userId: number, streamId: string): InlineKeyboardMarkup {
  return { inline_keyboard: [[{ text: t.answerButtons.stop, callback_data: `ans:s:${userId}:${streamId}` }]] };
}

/**
 * The buttons under an answer (text or media): Regenerate, and Continue after an answer cut at the
 * length limit; none when history could not keep the answer (there would be nothing to redo).
 */
export function answerButtonsFor(ctx: BotContext, reply: ChatReply): InlineKeyboardMarkup | undefined {
  if (!reply.historyAvailable || ctx.from === undefined) return undefined;
  return answerMarkup(
    ctx.t,
    ctx.from.id,
    reply.answerTag,
    reply.finishReason === 'length' && !reply.cutOff,
    ctx.deps.config.providers.order.indexOf(reply.provider),
  );
}
