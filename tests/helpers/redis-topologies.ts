import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './redis-server';

/**
 * A Redis Sentinel setup (one master, one sentinel watching it) and a one-node Redis Cluster (all
 * 16384 slots on one node: multi-key commands are still refused across slots, as on a real one),
 * on free loopback ports, keeping nothing after `stop()`. They need `redis-server`.
 */
export interface RedisServers {
  stop(): Promise<void>;
}

export interface TestSentinel extends RedisServers {
  readonly masterPort: number;
  readonly sentinelPort: number;
  readonly masterName: string;
}

export interface TestCluster extends RedisServers {
  readonly port: number;
}

function requireRedisServer(): void {
  const found = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (found.error !== undefined || found.status !== 0) {
    throw new Error('These tests need a Redis server: install redis-server (apt-get install redis-server).');
  }
}

/** Sends one inline command and resolves with the first reply line. */
function command(port: number, line: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    const done = (reply: string): void => {
      socket.destroy();
      resolve(reply);
    };
    socket.setTimeout(500, () => done(''));
    socket.once('error', () => done(''));
    socket.once('connect', () => socket.write(`${line}\r\n`));
    socket.once('data', (data) => done(data.toString()));
  });
}

async function waitUntil(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`${what} did not come up`);
}

function serve(args: string[]): ChildProcess {
  return spawn('redis-server', args, { stdio: 'ignore' });
}

async function stopAll(children: ChildProcess[], directory: string): Promise<void> {
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null) {
            resolve();
            return;
          }
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
  rmSync(directory, { recursive: true, force: true });
}

const EPHEMERAL = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];

export async function startTestSentinel(masterName = 'switchboard'): Promise<TestSentinel> {
  requireRedisServer();
  const directory = mkdtempSync(join(tmpdir(), 'switchboard-sentinel-'));
  const [masterPort, sentinelPort] = [await freePort(), await freePort()];
  const master = serve(['--port', String(masterPort), ...EPHEMERAL, '--dir', directory]);
  await waitUntil(async () => (await command(masterPort, 'PING')).startsWith('+PONG'), 'the Redis master');
  // A sentinel rewrites its config file, so it gets one of its own.
  const configFile = join(directory, 'sentinel.conf');
  writeFileSync(
    configFile,
    [
      `port ${sentinelPort}`,
      'bind 127.0.0.1',
      `dir ${directory}`,
      `sentinel monitor ${masterName} 127.0.0.1 ${masterPort} 1`,
      '',
    ].join('\n'),
  );
  const sentinel = spawn('redis-server', [configFile, '--sentinel'], { stdio: 'ignore' });
  await waitUntil(
    async () =>
      (await command(sentinelPort, `SENTINEL get-master-addr-by-name ${masterName}`)).includes(String(masterPort)),
    'the Redis sentinel',
  );
  return { masterPort, sentinelPort, masterName, stop: () => stopAll([sentinel, master], directory) };
}

export async function startTestCluster(): Promise<TestCluster> {
  requireRedisServer();
  const directory = mkdtempSync(join(tmpdir(), 'switchboard-cluster-'));
  const port = await freePort();
  const node = serve([
    '--port',
    String(port),
    ...EPHEMERAL,
    '--dir',
    directory,
    '--cluster-enabled',
    'yes',
    '--cluster-config-file',
    join(directory, 'nodes.conf'),
    // A lone node learns its address from no peer: without this, CLUSTER SLOTS names no host.
    '--cluster-announce-ip',
    '127.0.0.1',
  ]);
  await waitUntil(async () => (await command(port, 'PING')).startsWith('+PONG'), 'the Redis Cluster node');
  await command(port, 'CLUSTER ADDSLOTSRANGE 0 16383');
  await waitUntil(async () => (await command(port, 'CLUSTER INFO')).includes('cluster_state:ok'), 'the Redis Cluster');
  return { port, stop: () => stopAll([node], directory) };
}
