/**
 * Where Redis is: REDIS_URL, and for Sentinel or Cluster the addresses REDIS_URL's host cannot say.
 */
import { z } from 'zod';
import type { RedisAddress, RedisTopology } from '../../storage';
import { type FieldSpecs, parseFields, quote, readVariable, requiredString, splitList, text } from './fields';
import type { ConfigIssue, Env } from './types';

export function redisUrl() {
  return requiredString()
    .refine((value) => URL.canParse(value), { error: 'not a URL', abort: true })
    .refine((value) => ['redis:', 'rediss:'].includes(new URL(value).protocol), {
      error: 'must be a redis:// or rediss:// URL',
    });
}

/** `host:port, host:port` (IPv6 in brackets: `[::1]:26379`). */
function redisAddresses() {
  return requiredString()
    .transform(splitList)
    .pipe(
      z
        .array(
          z.string().refine((item) => parseAddress(item) !== undefined, {
            error: (issue) => `${quote(issue.input)} is not host:port`,
          }),
        )
        .min(1, { error: 'list at least one host:port' }),
    )
    .transform((items) => items.map((item) => parseAddress(item) as RedisAddress));
}

function parseAddress(item: string): RedisAddress | undefined {
  const match = /^(\[[0-9a-fA-F:.]+\]|[\w.-]+):(\d{1,5})$/.exec(item);
  const port = Number(match?.[2]);
  if (match?.[1] === undefined || !(port >= 1 && port <= 65_535)) return undefined;
  return { host: match[1].replace(/^\[(.*)\]$/, '$1'), port };
}

/** Where Redis is when REDIS_URL's host cannot say it: Sentinels, or the seed nodes of a Cluster. */
export function redisTopologyFields() {
  return {
    sentinels: ['REDIS_SENTINELS', redisAddresses().optional()],
    masterName: ['REDIS_SENTINEL_NAME', text(200).default('mymaster')],
    sentinelPassword: ['REDIS_SENTINEL_PASSWORD', text(1000).optional()],
    clusterNodes: ['REDIS_CLUSTER_NODES', redisAddresses().optional()],
  } as const satisfies FieldSpecs;
}

/**
 * REDIS_SENTINELS or REDIS_CLUSTER_NODES, which need REDIS_URL: it turns Redis on and gives the
 * user, password, database and TLS (`rediss://`), while its host is not used.
 */
export function readRedisTopology(env: Env, issues: ConfigIssue[]): RedisTopology | undefined {
  const fields = parseFields(env, redisTopologyFields(), issues);
  if (fields === undefined) return undefined;
  const { sentinels, masterName, sentinelPassword, clusterNodes } = fields;
  if (sentinelPassword !== undefined && sentinels === undefined) {
    issues.push({ variable: 'REDIS_SENTINEL_PASSWORD', problem: 'only used with REDIS_SENTINELS, which is not set' });
    return undefined;
  }
  if (sentinels !== undefined && clusterNodes !== undefined) {
    issues.push({
      variable: 'REDIS_CLUSTER_NODES',
      problem: 'set either REDIS_SENTINELS or REDIS_CLUSTER_NODES, not both',
    });
    return undefined;
  }
  const variable =
    sentinels !== undefined ? 'REDIS_SENTINELS' : clusterNodes !== undefined ? 'REDIS_CLUSTER_NODES' : undefined;
  if (variable === undefined) return undefined;
  const url = readVariable(env, 'REDIS_URL');
  if (url === undefined) {
    issues.push({
      variable: 'REDIS_URL',
      problem: `required with ${variable} (it gives the password, database and TLS; its host is not used), e.g. redis://:password@redis/0`,
    });
    return undefined;
  }
  if (clusterNodes !== undefined) {
    const database = URL.canParse(url) ? new URL(url).pathname.replace(/^\//, '') : '';
    if (database !== '' && database !== '0') {
      issues.push({
        variable: 'REDIS_URL',
        problem: 'a Redis Cluster has only database 0: leave the database out of the URL',
      });
    }
    return { kind: 'cluster', nodes: clusterNodes };
  }
  if (sentinels === undefined) return undefined;
  return {
    kind: 'sentinel',
    sentinels,
    masterName,
    ...(sentinelPassword === undefined ? {} : { sentinelPassword }),
  };
}
