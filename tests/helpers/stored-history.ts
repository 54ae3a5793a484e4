import { Redis } from 'ioredis';

/** A Redis client for a test to look at what the bot stored; it reconnects by itself after an outage. */
export async function connectInspector(url: string): Promise<Redis> {
  const client = new Redis(url, { lazyConnect: true });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/**
 * A conversation as the bot stored it in Redis (`sb:history:{<conversation>}`), as `role: content`
 * lines, oldest first: what the fault suites check for orphan and duplicated turns.
 */
export async function storedTurns(redis: Redis, conversationId: string): Promise<string[]> {
  const entries = await redis.lrange(`sb:history:{${conversationId}}`, 0, -1);
  return entries.map((entry) => {
    const { role, content } = JSON.parse(entry) as { role: string; content: string };
    return `${role}: ${content}`;
  });
}
