import type { InlineKeyboardMarkup, Update } from 'grammy/types';
import type { Messages } from '../locales';

/**
 * The buttons under an answer, as callback data (at most 64 bytes):
 *   `ans:r:<user id>:<answer tag>`  Regenerate: a new answer to the same question;
 *   `ans:c:<user id>:<answer tag>`  Continue: more of an answer that stopped at the length limit;
 *   `ans:s:<user id>:<stream id>`   Stop: ends the answer streaming now.
 * The answer tag names the answer as stored (`ChatService`): a button under an answer that is no
 * longer the conversation's last one does nothing. Only the user who asked may press them.
 */
export type AnswerButton =
  | { readonly action: 'regenerate' | 'continue'; readonly userId: string; readonly answerTag: string }
  | { readonly action: 'stop'; readonly userId: string; readonly streamId: string };

const DATA = /^ans:([rcs]):(\d+):([\w-]{1,32})$/;

export function parseAnswerButton(data: string): AnswerButton | undefined {
  const match = DATA.exec(data);
  if (match === null) return undefined;
  const [, action, userId = '', id = ''] = match;
  if (action === 's') return { action: 'stop', userId, streamId: id };
  return { action: action === 'r' ? 'regenerate' : 'continue', userId, answerTag: id };
}

/** A press of a Stop button: it must not wait in the chat's line behind the answer it stops. */
export function isStopPress(update: Update): boolean {
  return update.callback_query?.data?.startsWith('ans:s:') === true;
}

/** Regenerate, and Continue when the answer stopped at the length limit. */
export function answerMarkup(
  t: Messages,
  userId: number,
  answerTag: string,
  canContinue: boolean,
): InlineKeyboardMarkup {
  return {
    inline_keyboard: [
      [
        { text: t.answerButtons.regenerate, callback_data: `ans:r:${userId}:${answerTag}` },
        ...(canContinue ? [{ text: t.answerButtons.continue, callback_data: `ans:c:${userId}:${answerTag}` }] : []),
      ],
    ],
  };
}

export function stopMarkup(t: Messages, userId: number, streamId: string): InlineKeyboardMarkup {
  return { inline_keyboard: [[{ text: t.answerButtons.stop, callback_data: `ans:s:${userId}:${streamId}` }]] };
}
