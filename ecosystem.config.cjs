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
module.exports = {
  apps: [
    {
      name: 'switchboard',
      script: 'dist/bot/main.js',
      exec_mode: 'fork',
      instances: 1,
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
      kill_timeout: 12000,
      max_memory_restart: '300M',
      // Needs WEBHOOK_URL, WEBHOOK_SECRET, PORT and REDIS_URL in the environment or .env.
      env: { NODE_ENV: 'production' },
      autorestart: true,
    },
  ],
};
