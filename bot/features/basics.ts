import { Composer } from 'grammy';
import { isStorageUnavailable } from '../../storage';
import { type BotContext, conversationIdOf } from '../context';

/** /start, /help and /reset: cost no provider call, so no limit applies. */
export function basicsFeature(): Composer<BotContext> {
  const feature = new Composer<BotContext>();
  feature.command('start', (ctx) => ctx.reply(ctx.t.start(ctx.from?.first_name ?? '')));
  feature.command('help', (ctx) => ctx.reply(ctx.t.help));
  feature.command('reset', async (ctx) => {
    const conversationId = conversationIdOf(ctx);
    if (conversationId === undefined) return;
    try {
      await ctx.deps.services.chat.resetConversation(conversationId);
    } catch (error) {
      if (!isStorageUnavailable(error)) throw error;
      await ctx.reply(ctx.t.resetFailed);
      return;
    }
    await ctx.reply(ctx.t.resetDone);
  });
  return feature;
}
