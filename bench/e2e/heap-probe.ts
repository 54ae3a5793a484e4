/**
 * A bench-only instrument, preloaded into the bot of the memory phase (`node --expose-gc -r
 * heap-probe.js …`): on SIGUSR2 it runs a full garbage collection and writes the live heap and
 * the RSS to the file named by HEAP_PROBE_FILE, as one JSON line per probe. The bot's own code
 * knows nothing of it.
 *
 * Why: RSS taken at a moment moves by ±10 MB with where the collector happens to be, which
 * drowns a growth of a kilobyte per user over 9,000 users; the heap that is still live after a
 * full collection is what grows if something is kept per user.
 */
import { appendFileSync } from 'node:fs';

const file = process.env.HEAP_PROBE_FILE;
const collect = (globalThis as { gc?: () => void }).gc;
if (file !== undefined && collect !== undefined) {
  process.on('SIGUSR2', () => {
    collect();
    const { heapUsed, rss } = process.memoryUsage();
    appendFileSync(file, `${JSON.stringify({ heapUsed, rss })}\n`);
  });
}
