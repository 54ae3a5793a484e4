import type { MiddlewareFn } from 'grammy';
import type { BotContext } from '../context';

/**
 * Long pastes. Telegram apps split a message longer than 4,096 characters into several, sent a
 * moment apart; answered one by one, each part would get its own (confused) answer. In a private
 * chat, a long text message (a likely first part) waits `joinMs` for more: every text the same user
 * sends before `joinMs` of silence is joined to it, and the joined text is answered once, as the
 * first part's update. The parts joined to it end at once, unanswered.
 *
 * It stands before the per-chat sequencing (which would hold the next parts until the first is
 * handled). Parts are joined within one process: with several processes sharing the updates
 * (Redis), parts that reach another process are answered apart.
 */
export const PASTE_PART_MIN_CHARS = 3_000;

interface Paste {
  readonly parts: string[];
  timer: NodeJS.Timeout;
  readonly done: () => void;
}

/**
 * `releaseTurn` is called when a first part starts waiting: with the durable intake, the parts
 * behind it in the chat's line may then go on (to be joined here) instead of waiting for it.
 */
export function pasteJoin(joinMs: number, releaseTurn?: (ctx: BotContext) => void): MiddlewareFn<BotContext> {
  const pastes = new Map<string, Paste>();
  return async (ctx, next) => {
    const text = ctx.message?.text;
    if (joinMs <= 0 || text === undefined || ctx.chat?.type !== 'private' || ctx.from === undefined) return next();
    const key = `${ctx.chat.id}:${ctx.from.id}`;
    const open = pastes.get(key);
    if (open !== undefined && !text.startsWith('/')) {
      open.parts.push(text);
      clearTimeout(open.timer);
      open.timer = setTimeout(open.done, joinMs);
      ctx.log.debug({ parts: open.parts.length }, 'joined to a long paste');
      return;
    }
    if (open !== undefined || text.length < PASTE_PART_MIN_CHARS || text.startsWith('/')) return next();
    const parts = [text];
    const joined = new Promise<void>((resolve) => {
      const paste: Paste = { parts, timer: setTimeout(() => paste.done(), joinMs), done: resolve };
      pastes.set(key, paste);
    });
    releaseTurn?.(ctx);
    await joined;
    pastes.delete(key);
    if (parts.length > 1) {
      ctx.joinedText = parts.join('\n');
      ctx.log.info({ parts: parts.length, chars: ctx.joinedText.length }, 'answering a long paste as one message');
    }
    return next();
  };
}
