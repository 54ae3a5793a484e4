import { Composer, InputFile } from 'grammy';
import { isStorageUnavailable } from '../../storage';
import { type BotContext, conversationIdOf } from '../context';
import { conversationToMarkdown, exportFileName } from '../services/export';

/**
 * `/export`: the conversation (the history the bot keeps for this chat and user) as a Markdown
 * file, sent with sendDocument. Costs no provider call, so no limit applies.
 */
export function exportFeature(): Composer<BotContext> {
  const feature = new Composer<BotContext>();
  feature.command('export', async (ctx) => {
    const conversationId = conversationIdOf(ctx);
    if (conversationId === undefined) return;
    let messages: Awaited<ReturnType<typeof ctx.deps.services.chat.conversationMessages>>;
    try {
      messages = await ctx.deps.services.chat.conversationMessages(conversationId);
    } catch (error) {
      if (!isStorageUnavailable(error)) throw error;
      await ctx.reply(ctx.t.export.unavailable);
      return;
    }
    if (messages.length === 0) {
      await ctx.reply(ctx.t.export.empty);
      return;
    }
    const now = ctx.deps.now();
    const markdown = conversationToMarkdown(messages, ctx.t.export, now);
    await ctx.replyWithDocument(new InputFile(Buffer.from(markdown, 'utf8'), exportFileName(now)), {
      caption: ctx.t.export.caption(messages.length),
    });
  });
  return feature;
}
