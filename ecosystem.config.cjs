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
 * the live data, so under load the bot's RSS passes 250 MB with some 40 MB live. A 384 MB old
 * space keeps the old generation near 1.5× live. Young collections are most of the garbage
 * collector's time here: each answer allocates some 200 KB, and a good part of it lives as long
 * as the answer is in flight, so halves that fill less often copy and promote less: 16 MB
 * semi-spaces cost about 10 MB of RSS over 8 MB ones and save 10–15 % of the CPU per answer.
 *
 * The RSS for them comes from glibc's allocator (GLIBC_TUNABLES, read when the process starts):
 * by default it raises its trim and mmap thresholds after large frees (module loading frees a
 * lot) and then keeps freed memory instead of returning it; fixed 128 KB thresholds return it.
 * Measured with `npm run bench:e2e` (throughput with providers answering at once, and RSS after
 * 10,000 users), side by side on a 2-core machine (figures of different days differ; compare rows):
 *
 *   old / semi (MB), allocator         updates/s    RSS after 10,000 users
 *   384 / 8, glibc defaults            ~980–1,010   142 MB
 *   384 / 16, glibc defaults           ~1,100–1,290 152–156 MB
 *   384 / 16, fixed thresholds         ~1,050–1,200 143–144 MB   ← chosen
 *   384 / 24 or 32, fixed thresholds   ~1,400       174–179 MB
 *
 * `npm start` uses the same flags and environment (package.json; a test checks they agree).
 */
const NODE_ARGS = ['--max-old-space-size=384', '--max-semi-space-size=16'];
/** glibc only: elsewhere the variable is ignored. */
const MEMORY_ENV = { GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=131072:glibc.malloc.mmap_threshold=131072' };

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
      env: { NODE_ENV: 'production', ...MEMORY_ENV },
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
      env: { NODE_ENV: 'production', ...MEMORY_ENV },
      autorestart: true,
    },
  ],
};
