import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createStores, type StorageEvent, type Stores } from '../../../storage/create-stores';
import type { RedisTopology } from '../../../storage/redis/client';
import {
  type RedisServers,
  startClusterSet,
  startTestCluster,
  startTestSentinel,
} from '../../helpers/redis-topologies';

const DAY = '2026-11-26';
const T0 = Date.UTC(2026, 10, 26, 12, 0, 0);
// With Sentinels or Cluster nodes, REDIS_URL's host is not used: nothing listens on port 1.
const URL_WITHOUT_HOST = 'redis://127.0.0.1:1';

/**
 * Every store, as the bot builds it, on a Sentinel-managed master, on a one-node Redis Cluster and
 * on a Cluster of three shards: two "processes" (two sets of stores) share what they write,
 * nothing falls back to local state, and no command is refused for keys in different Cluster
 * slots, also when many are sent at once.
 */
describe.each([
  ['Sentinel', 'sentinel'],
  ['Cluster (one node)', 'cluster'],
  ['Cluster (three shards)', 'shards'],
] as const)('stores on Redis %s', (_name, kind) => {
  let servers: RedisServers;
  let topology: RedisTopology;
  const events: StorageEvent[] = [];
  const processes: Stores[] = [];

  beforeAll(async () => {
    if (kind === 'sentinel') {
      const sentinel = await startTestSentinel();
      servers = sentinel;
      topology = {
        kind: 'sentinel',
        sentinels: [{ host: '127.0.0.1', port: sentinel.sentinelPort }],
        masterName: sentinel.masterName,
      };
    } else if (kind === 'cluster') {
      const cluster = await startTestCluster();
      servers = cluster;
      topology = { kind: 'cluster', nodes: [{ host: '127.0.0.1', port: cluster.port }] };
    } else {
      const cluster = await startClusterSet({ masters: 3, replicasPerMaster: 0 });
      servers = cluster;
      topology = { kind: 'cluster', nodes: [{ host: '127.0.0.1', port: cluster.ports[0]! }] };
    }
    for (let index = 0; index < 2; index++) {
      processes.push(
        await createStores({
          redisUrl: URL_WITHOUT_HOST,
          redisTopology: topology,
          onEvent: (event) => {
            if (event.type !== 'connection-error') events.push(event);
          },
        }),
      );
    }
  }, 20_000);
  afterAll(async () => {
    await Promise.all(processes.map((stores) => stores.close()));
    await servers?.stop();
  });

  it('connects through the topology, not REDIS_URL’s host', () => {
    expect(processes.map((stores) => [stores.mode, stores.isHealthy()])).toEqual([
      ['redis', true],
      ['redis', true],
    ]);
  });

  it('shares counters, history, quotas, stats and chat order between processes', async () => {
    const [first, second] = processes as [Stores, Stores];

    await first.counters.increment('user:1', 60_000, T0);
    expect((await second.counters.increment('user:1', 60_000, T0)).count).toBe(2);

    const limits = { maxMessages: 10, ttlSeconds: 60 };
    await first.history.append(
      'u:1',
      [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: 'hello' },
      ],
      limits,
      'update:1',
    );
    expect(await second.history.load('u:1')).toHaveLength(2);
    await second.history.clear('u:1');
    expect(await first.history.load('u:1')).toEqual([]);

    const candidates = [
      { keyId: 'prov:a', limits: { requestsPerMinute: 1 } },
      { keyId: 'prov:b', limits: { requestsPerMinute: 1 } },
    ];
    const acquire = (stores: Stores, reservationId: string) =>
      stores.quota.acquire({ candidates, tokens: 10, reservationId, now: T0, day: DAY });
    const taken = [await acquire(first, 'r1'), await acquire(second, 'r2'), await acquire(first, 'r3')];
    expect(taken.map((result) => result.ok)).toEqual([true, true, false]);
    await first.quota.settle({
      keyId: 'prov:a',
      reservationId: 'r1',
      reservedTokens: 10,
      actualTokens: 4,
      now: T0,
      day: DAY,
    });
    await second.quota.block('prov:b', 'cooldown', T0 + 5000, T0);
    await first.quota.observe('prov:a', { requestsPerMinute: { limit: 30, remaining: 29 } }, T0, DAY);
    const usage = await second.quota.usage(['prov:a', 'prov:b'], T0, DAY);
    expect(usage.map((key) => key.requestsLastMinute)).toEqual([1, 1]);
    expect(usage[1]?.block?.reason).toBe('cooldown');

    const attempt = {
      provider: 'prov',
      keyId: 'prov:a',
      maskedKey: 'prov…aaaa',
      outcome: 'success',
      latencyMs: 12,
      fallback: false,
      at: T0,
    } as const;
    await first.stats.recordAttempt(attempt, DAY);
    await second.stats.recordAttempt({ ...attempt, outcome: 'rate_limited' }, DAY);
    await first.stats.recordUserRequest('42', DAY);
    const snapshot = await second.stats.read(DAY);
    expect(snapshot.providers.prov?.requests).toBe(2);
    expect(snapshot.keys['prov:a']?.successes).toBe(1);
    expect(snapshot.activeUsers).toBe(1);

    const [firstLines, secondLines] = [first.intake!.queue.ordering, second.intake!.queue.ordering];
    const ticket = await firstLines.take('chat:1');
    const next = await secondLines.take('chat:1');
    const turn = secondLines.waitForTurn(next, 60_000);
    await firstLines.done(ticket);
    expect(await turn).toBe('turn');

    expect(events).toEqual([]); // nothing fell back to local state
  });

  it('runs the scripts of many conversations, users and chats at once', async () => {
    const [first, second] = processes as [Stores, Stores];
    const ids = Array.from({ length: 12 }, (_, index) => `many:${index}`);
    const limits = { maxMessages: 10, ttlSeconds: 60 };
    // All in one tick: each call is a script or command on keys of its own slot.
    await Promise.all(
      ids.flatMap((id, index) => [
        first.history.append(
          id,
          [
            { role: 'user', content: `q${index}` },
            { role: 'assistant', content: `a${index}` },
          ],
          limits,
          `update:${index}`,
        ),
        first.counters.increment(id, 60_000, T0),
        second.counters.increment(id, 60_000, T0),
        first.intake!.queue.ordering.take(id),
      ]),
    );
    const stored = await Promise.all(ids.map((id) => second.history.load(id)));
    expect(stored.map((messages) => messages.map((message) => message.content))).toEqual(
      ids.map((_id, index) => [`q${index}`, `a${index}`]),
    );
    expect(await Promise.all(ids.map((id) => second.counters.peek(id, T0)))).toEqual(ids.map(() => 2));
    expect(events).toEqual([]);
  });
});
