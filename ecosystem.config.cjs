/**
 * PM2 process file. PM2 runs the built entry point with node directly (npm would not pass
 * SIGTERM on, and the bot needs it to finish the answers in flight before it exits).
 *
 *   npm run build && pm2 start ecosystem.config.cjs --only switchboard          # long polling, one process
 *   npm run build && pm2 start ecosystem.config.cjs --only switchboard-webhook  # webhook mode, several
 *
 * Long polling must run as ONE process (Telegram gives updates to one poller). Webhook mode can
 * run several in cluster mode: they share the port, and with REDIS_URL set they share history,
 * limits, key quotas and stats.
 */
/**
 * V8 sizes the heap for the machine: with a high memory limit it lets the heap grow to about 4×
 * the live data, and keeps 16 MB young-generation halves, so under load the bot's RSS passes
 * 250 MB with some 40 MB live. A 384 MB old space keeps the old generation near 1.5× live; 8 MB
 * semi-spaces are the young generation's size. Measured with `npm run bench:e2e` (throughput with
 * providers answering at once, and RSS after 10,000 users), side by side on a 2-core machine:
 *
 *   old / semi (MB)   updates/s   RSS after 10,000 users
 *   256 / 4           ~1,370      130–131 MB
 *   256 / 8           ~1,760      138–148 MB
 *   384 / 8           ~1,830      142–144 MB   ← chosen
 *   512 / 8           ~1,740      141–148 MB
 *
 * Young collections are most of the garbage collector's time here: each answer allocates some
 * 200 KB that lives as long as the answer is in flight, so halves that fill less often copy
 * less. Tried again later (16 MB halves: half the young collections, a fifth less GC helper
 * CPU): RSS after 10,000 users rose to 152–158 MB, past the 150 MB budget; glibc thresholds
 * (GLIBC_TUNABLES trim/mmap at 128 KB) brought it back to 143–145 MB but cost about as much CPU
 * in malloc as the larger halves saved, and end to end neither beat 8 MB beyond the run-to-run
 * spread. `npm start` uses the same flags (package.json; a test checks they agree).
 */
const NODE_ARGS = ['--max-old-space-size=384', '--max-semi-space-size=8'];

module.exports = {
  apps: [
    {
      name: 'switchboard',
      script: 'dist/bot/main.js',
      exec_mode: 'fork',
      instances: 1,
      node_args: NODE_ARGS,
      // The bot finishes in-flight updates for up to 10 s after SIGTERM.
      kill_timeout: 12000,
      max_memory_restart: '300M',
      env: { NODE_ENV: 'production' },
    },
    {
      name: 'switchboard-webhook',
      script: 'dist/bot/main.js',
      exec_mode: 'cluster',
      instances: 'max',
      node_args: NODE_ARGS,
      kill_timeout: 12000,
      max_memory_restart: '300M',
      // Needs WEBHOOK_URL, WEBHOOK_SECRET, PORT and REDIS_URL in the environment or .env.
      env: { NODE_ENV: 'production' },
      autorestart: true,
    },
  ],
};
