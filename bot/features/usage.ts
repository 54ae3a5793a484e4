import { Composer } from 'grammy';
import { type BotContext, isAdmin } from '../context';
import { readUserUsage } from '../services/usage';

/** `/usage`: the user's own use today and what is left under their limits. Costs no provider call. */
export function usageFeature(): Composer<BotContext> {
  const feature = new Composer<BotContext>();
  feature.command('usage', async (ctx) => {
    if (ctx.from === undefined) return;
    if (isAdmin(ctx)) {
      await ctx.reply(ctx.t.usage.admin);
      return;
    }
    const { config, services, now } = ctx.deps;
    const usage = await readUserUsage(
      services.stores,
      String(ctx.from.id),
      {
        perMinute: config.rateLimitPerMinute,
        perDay: config.userDailyLimit,
        mediaPerDay: config.userDailyMediaLimit,
        audioSecondsPerDay: config.userDailyAudioSeconds,
      },
      now(),
    );
    await ctx.reply(ctx.t.usage.report(usage));
  });
  return feature;
}
