import { describe, expect, it } from '@jest/globals';
import { type ConfigError, configSecrets, createConfig, describeConfig, isConfigError } from '../../bot/config';

const TOKEN = '123456:TEST-token-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx';

function problems(env: Record<string, string>): string[] {
  try {
    createConfig({ BOT_TOKEN: TOKEN, ...env });
  } catch (error) {
    if (isConfigError(error))
      return (error as ConfigError).issues.map(({ variable, problem }) => `${variable}: ${problem}`);
    throw error;
  }
  return [];
}

describe('Redis Sentinel and Cluster settings', () => {
  it('uses REDIS_URL alone when neither is set', () => {
    const config = createConfig({ BOT_TOKEN: TOKEN, REDIS_URL: 'redis://localhost:6379/0' });
    expect(config.redisTopology).toBeUndefined();
  });

  it('reads the sentinels and the master name (mymaster by default), IPv6 in brackets', () => {
    const config = createConfig({
      BOT_TOKEN: TOKEN,
      REDIS_URL: 'redis://:s3cret@ignored/2',
      REDIS_SENTINELS: ' sentinel-1:26379, 10.0.0.2:26380 ,[::1]:26381',
    });
    expect(config.redisTopology).toEqual({
      kind: 'sentinel',
      sentinels: [
        { host: 'sentinel-1', port: 26379 },
        { host: '10.0.0.2', port: 26380 },
        { host: '::1', port: 26381 },
      ],
      masterName: 'mymaster',
    });
    expect(
      createConfig({ BOT_TOKEN: TOKEN, REDIS_URL: 'redis://x', REDIS_SENTINELS: 'a:1', REDIS_SENTINEL_NAME: 'cache' })
        .redisTopology,
    ).toMatchObject({
      masterName: 'cache',
    });
    expect(JSON.stringify(describeConfig(config))).not.toContain('s3cret');
  });

  it('reads the sentinels’ own password, and keeps it out of the logged config', () => {
    const config = createConfig({
      BOT_TOKEN: TOKEN,
      REDIS_URL: 'redis://:data-pass@ignored',
      REDIS_SENTINELS: 'a:26379',
      REDIS_SENTINEL_PASSWORD: ' sentinel-pass-0123 ',
    });
    expect(config.redisTopology).toEqual({
      kind: 'sentinel',
      sentinels: [{ host: 'a', port: 26379 }],
      masterName: 'mymaster',
      sentinelPassword: 'sentinel-pass-0123',
    });
    expect(JSON.stringify(describeConfig(config))).not.toContain('sentinel-pass-0123');
    expect(configSecrets(config)).toContain('sentinel-pass-0123');
    expect(problems({ REDIS_URL: 'redis://x', REDIS_SENTINEL_PASSWORD: 'sentinel-pass-0123' })).toEqual([
      'REDIS_SENTINEL_PASSWORD: only used with REDIS_SENTINELS, which is not set',
    ]);
  });

  it('reads the cluster nodes', () => {
    const config = createConfig({
      BOT_TOKEN: TOKEN,
      REDIS_URL: 'rediss://user:pw@ignored',
      REDIS_CLUSTER_NODES: 'redis-1:6379,redis-2:6380',
    });
    expect(config.redisTopology).toEqual({
      kind: 'cluster',
      nodes: [
        { host: 'redis-1', port: 6379 },
        { host: 'redis-2', port: 6380 },
      ],
    });
  });

  it('names what is wrong: no REDIS_URL, both set, a bad address, a database on a Cluster', () => {
    expect(problems({ REDIS_SENTINELS: 'a:26379' })).toEqual([
      'REDIS_URL: required with REDIS_SENTINELS (it gives the password, database and TLS; its host is not used), e.g. redis://:password@redis/0',
    ]);
    expect(problems({ REDIS_URL: 'redis://x', REDIS_SENTINELS: 'a:1', REDIS_CLUSTER_NODES: 'b:2' })).toEqual([
      'REDIS_CLUSTER_NODES: set either REDIS_SENTINELS or REDIS_CLUSTER_NODES, not both',
    ]);
    expect(problems({ REDIS_URL: 'redis://x', REDIS_CLUSTER_NODES: 'redis-1, redis-2:99999' })).toEqual([
      'REDIS_CLUSTER_NODES: "redis-1" is not host:port',
      'REDIS_CLUSTER_NODES: "redis-2:99999" is not host:port',
    ]);
    expect(problems({ REDIS_URL: 'redis://x/3', REDIS_CLUSTER_NODES: 'redis-1:6379' })).toEqual([
      'REDIS_URL: a Redis Cluster has only database 0: leave the database out of the URL',
    ]);
  });
});
