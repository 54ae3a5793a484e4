import { Composer } from 'grammy';
import type { CounterSummary, PoolStats, ProviderStats } from '../services/pool-stats';
import { type BotContext, isAdmin } from '../context';
import type { Messages } from '../locales';
import { escapeHtml } from '../render';
import { splitForTelegram } from '../render';

/** `/stats`, for ADMIN_IDS only: the pool at a glance, laid out to read on a phone. */
export function statsFeature(): Composer<BotContext> {
  const feature = new Composer<BotContext>();
  feature.command('stats', async (ctx) => {
    if (!isAdmin(ctx)) {
      await ctx.reply(ctx.t.stats.refused);
      return;
    }
    const pool = await ctx.deps.services.poolStats();
    for (const part of splitForTelegram(formatStats(pool, ctx.t, ctx.deps.now()))) {
      await ctx.reply(part, { parse_mode: 'HTML' });
    }
  });
  return feature;
}

/** The stats message (Telegram HTML). Keys appear only masked: PoolStats never holds them in full. */
function formatStats(pool: PoolStats, t: Messages, now: number): string {
  const lines = [
    `<b>${escapeHtml(t.stats.title(pool.day))}</b>`,
    escapeHtml(t.stats.pool(pool.leftToday, pool.dailyCapacity)),
  ];
  if (pool.keysWithUnknownLimit > 0) lines.push(escapeHtml(t.stats.unknownKeys(pool.keysWithUnknownLimit)));
  for (const provider of pool.providers) lines.push('', ...formatProvider(provider, t, now));
  lines.push('', escapeHtml(t.stats.users(pool.activeUsersToday)));
  if (pool.topUsers.length > 0) {
    lines.push(escapeHtml(t.stats.topUsers));
    for (const user of pool.topUsers) lines.push(`  <code>${escapeHtml(user.userId)}</code> — ${user.requests}`);
  }
  return lines.join('\n');
}

function formatProvider(provider: ProviderStats, t: Messages, now: number): string[] {
  const header = `<b>${escapeHtml(provider.name)}</b> ${t.stats.breaker[provider.breaker]} <i>${escapeHtml(provider.model)}</i>`;
  const left =
    provider.leftToday === undefined
      ? ''
      : ` · ${provider.leftToday}/${provider.dailyCapacity ?? '?'} ${escapeHtml(t.stats.left)}`;
  const lines = [header, `${formatCounters(provider.counters, t)}${left}`];
  for (const key of provider.keys) {
    const today = key.dailyLimit === undefined ? `${key.requestsToday}` : `${key.requestsToday}/${key.dailyLimit}`;
    const usage =
      key.monthlyLimit === undefined
        ? today
        : `${today} · ${key.requestsThisMonth}/${key.monthlyLimit} ${escapeHtml(t.stats.thisMonth)}`;
    const blocked =
      key.blocked === undefined
        ? ''
        : ` · ⛔ ${escapeHtml(t.stats.blocked[key.blocked.reason] ?? key.blocked.reason)} ${escapeHtml(t.stats.until(formatTime(key.blocked.until, now)))}`;
    lines.push(`  <code>${escapeHtml(key.maskedKey)}</code> ${usage} · ${formatCounters(key.counters, t)}${blocked}`);
  }
  return lines;
}

function formatCounters(counters: CounterSummary, t: Messages): string {
  if (counters.requests === 0) return escapeHtml(t.stats.noRequests);
  const parts = [`${counters.requests} ${escapeHtml(t.stats.requests)}`];
  if (counters.successRate !== undefined)
    parts.push(`${Math.round(counters.successRate * 100)}% ${escapeHtml(t.stats.success)}`);
  if (counters.latencyP50Ms !== undefined) {
    parts.push(
      `p50 ${Math.round(counters.latencyP50Ms)} ms / p95 ${Math.round(counters.latencyP95Ms ?? counters.latencyP50Ms)} ms`,
    );
  }
  if (counters.fallbacks > 0) parts.push(`${counters.fallbacks} ${escapeHtml(t.stats.fallbacks)}`);
  if (counters.hedges > 0) parts.push(`${counters.hedges} ${escapeHtml(t.stats.hedges)}`);
  if (counters.transcriptions > 0) {
    parts.push(escapeHtml(t.stats.transcriptions(counters.transcriptions, counters.audioSeconds)));
  }
  if (counters.mediaRequests > 0) parts.push(escapeHtml(t.stats.mediaRequests(counters.mediaRequests)));
  const failures = Object.entries(counters.failures)
    .filter(([, count]) => (count ?? 0) > 0)
    .map(([kind, count]) => `${kind} ${count}`);
  if (failures.length > 0) parts.push(`${escapeHtml(t.stats.errors)}: ${failures.join(', ')}`);
  return parts.join(' · ');
}

/** "14:05 UTC" today, or the date and time when further away. */
function formatTime(at: number, now: number): string {
  const iso = new Date(at).toISOString();
  return at - now < 86_400_000 ? `${iso.slice(11, 16)} UTC` : `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}
