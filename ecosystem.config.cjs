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
 * V8 lets the heap grow to about 4× the live data when the memory limit is high (the default on a
 * machine with several GB), and keeps 16 MB young-generation halves: under load the bot's RSS
 * then passes 250 MB with some 60 MB live. A 256 MB old space keeps the heap near 1.4× live, and
 * 4 MB semi-spaces trim another ~18 MB, for a few more (cheap) young collections. Measured by
 * `npm run bench:e2e`; `npm start` uses the same flags (package.json).
 */
const NODE_ARGS = ['--max-old-space-size=256', '--max-semi-space-size=4'];

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
