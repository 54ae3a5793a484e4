import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './redis-server';

/**
 * Redis Sentinel and Redis Cluster setups of real processes on free loopback ports, keeping
 * nothing after `stop()`: a master with replicas watched by sentinels (`startSentinelSet`; the
 * small `startTestSentinel` is one master and one sentinel), a Cluster of masters with replicas
 * (`startClusterSet`; the small `startTestCluster` is one node holding every slot: multi-key
 * commands are still refused across slots, as on a real one). Failovers are quick (a node is
 * judged down after a second) so a test can fail a master over in a few seconds. They need
 * `redis-server`, and the Cluster with replicas `redis-cli`.
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

function requireBinary(name: string, hint: string): void {
  const found = spawnSync(name, ['--version'], { encoding: 'utf8' });
  if (found.error !== undefined || found.status !== 0) {
    throw new Error(`These tests need ${name}: install it (${hint}).`);
  }
}

function requireRedisServer(): void {
  requireBinary('redis-server', 'apt-get install redis-server');
}

function hasBinary(name: string): boolean {
  const found = spawnSync(name, ['--version'], { encoding: 'utf8' });
  return found.error === undefined && found.status === 0;
}

/**
 * Sends one command to the server on `port` over a connection of its own, and resolves with the
 * reply, or with `undefined` when the server is unreachable or refuses (a test waits on it).
 */
export async function ask(port: number, password: string | undefined, ...args: string[]): Promise<unknown> {
  const client = new Redis({
    host: '127.0.0.1',
    port,
    ...(password === undefined ? {} : { password }),
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 500,
    commandTimeout: 2000,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await client.call(args[0]!, ...args.slice(1));
  } catch {
    return undefined;
  } finally {
    client.disconnect();
  }
}

/** Sends one inline command without a password, and resolves with the first reply line (`-NOAUTH …`). */
export function askWithoutPassword(port: number, line: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    const done = (reply: string): void => {
      socket.destroy();
      resolve(reply);
    };
    socket.setTimeout(1000, () => done(''));
    socket.once('error', () => done(''));
    socket.once('connect', () => socket.write(`${line}\r\n`));
    socket.once('data', (data) => done(data.toString().split('\r\n')[0] ?? ''));
  });
}

/** Polls `check` every 50 ms until it holds, or fails naming `what` after `timeoutMs`. */
export async function waitUntil(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`waited ${timeoutMs} ms for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * The processes one setup started. They are killed when the setup stops, when it fails to come up,
 * and, as a last resort, when the test process exits without stopping it.
 */
class Processes {
  private readonly children = new Set<ChildProcess>();
  private readonly onExit = (): void => {
    for (const child of this.children) if (child.exitCode === null) child.kill('SIGKILL');
  };

  constructor(readonly directory: string) {
    process.once('exit', this.onExit);
  }

  spawn(command: string, args: string[]): ChildProcess {
    const child = spawn(command, args, { stdio: 'ignore' });
    child.on('error', () => undefined);
    this.children.add(child);
    return child;
  }

  async kill(child: ChildProcess): Promise<void> {
    if (child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      });
    }
    this.children.delete(child);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.children].map((child) => this.kill(child)));
    process.off('exit', this.onExit);
    rmSync(this.directory, { recursive: true, force: true });
  }

  /** Runs `start`; if it throws, everything started so far is stopped before the error goes on. */
  async guard<T>(start: () => Promise<T>): Promise<T> {
    try {
      return await start();
    } catch (error) {
      await this.stop();
      throw error;
    }
  }
}

const EPHEMERAL = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];

async function waitForPing(port: number, password: string | undefined, what: string): Promise<void> {
  await waitUntil(async () => (await ask(port, password, 'PING')) === 'PONG', what);
}

export async function startTestSentinel(masterName = 'switchboard'): Promise<TestSentinel> {
  const set = await startSentinelSet({ masterName, replicas: 0, sentinels: 1 });
  return {
    masterPort: set.dataPorts[0]!,
    sentinelPort: set.sentinelPorts[0]!,
    masterName,
    stop: () => set.stop(),
  };
}

export interface SentinelSetOptions {
  readonly masterName?: string;
  /** Replicas of the master (default 2). */
  readonly replicas?: number;
  /** Sentinels (default 3; the quorum is a majority of them). */
  readonly sentinels?: number;
  /** The data nodes' password (`requirepass` and `masterauth` on each, `sentinel auth-pass`). */
  readonly password?: string;
  /** The sentinels' own password (`requirepass` on each sentinel; they use it with each other too). */
  readonly sentinelPassword?: string;
}

export interface TestSentinelSet extends RedisServers {
  readonly masterName: string;
  /** The data nodes' ports, the first master first. */
  readonly dataPorts: readonly number[];
  readonly sentinelPorts: readonly number[];
  /** The master's port as every sentinel names it (rejects while they disagree, after a while). */
  master(): Promise<number>;
  /** Asks a sentinel to fail the master over (SENTINEL FAILOVER); resolves with the new master's port once it serves. */
  failover(): Promise<number>;
  /** Kills the master (SIGKILL); resolves with the new master's port once the sentinels promoted a replica. */
  killMaster(): Promise<number>;
}

/**
 * One master, `replicas` replicas and `sentinels` sentinels watching them, judging a silent master
 * down after one second. Resolves once the replicas are in sync and every sentinel knows every
 * replica and every other sentinel, so that a failover can start at once.
 */
export async function startSentinelSet(options: SentinelSetOptions = {}): Promise<TestSentinelSet> {
  requireRedisServer();
  const masterName = options.masterName ?? 'switchboard';
  const replicaCount = options.replicas ?? 2;
  const sentinelCount = options.sentinels ?? 3;
  const { password, sentinelPassword } = options;
  const processes = new Processes(mkdtempSync(join(tmpdir(), 'switchboard-sentinel-')));
  const { directory } = processes;
  const dataPorts: number[] = [];
  for (let index = 0; index <= replicaCount; index++) dataPorts.push(await freePort());
  const sentinelPorts: number[] = [];
  for (let index = 0; index < sentinelCount; index++) sentinelPorts.push(await freePort());
  const data = new Map<number, ChildProcess>();

  return processes.guard(async () => {
    for (const [index, port] of dataPorts.entries()) {
      const args = ['--port', String(port), ...EPHEMERAL, '--dir', directory, '--dbfilename', `dump-${port}.rdb`];
      // Any node may become the master: each one asks for the password and gives it to its master.
      if (password !== undefined) args.push('--requirepass', password, '--masterauth', password);
      if (index > 0) args.push('--replicaof', '127.0.0.1', String(dataPorts[0]));
      data.set(port, processes.spawn('redis-server', args));
    }
    for (const port of dataPorts) await waitForPing(port, password, `the Redis node on port ${port}`);
    for (const port of dataPorts.slice(1)) {
      await waitUntil(
        async () => String(await ask(port, password, 'INFO', 'replication')).includes('master_link_status:up'),
        `the replica on port ${port} to sync`,
      );
    }

    // A sentinel rewrites its config file, so each gets one of its own.
    const sentinelBinary = hasBinary('redis-sentinel') ? 'redis-sentinel' : undefined;
    for (const port of sentinelPorts) {
      const configFile = join(directory, `sentinel-${port}.conf`);
      writeFileSync(
        configFile,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${directory}`,
          ...(sentinelPassword === undefined ? [] : [`requirepass ${sentinelPassword}`]),
          `sentinel monitor ${masterName} 127.0.0.1 ${dataPorts[0]} ${Math.floor(sentinelCount / 2) + 1}`,
          ...(password === undefined ? [] : [`sentinel auth-pass ${masterName} ${password}`]),
          `sentinel down-after-milliseconds ${masterName} 1000`,
          `sentinel failover-timeout ${masterName} 3000`,
          `sentinel parallel-syncs ${masterName} ${Math.max(1, replicaCount)}`,
          '',
        ].join('\n'),
      );
      // `redis-server <file> --sentinel` is the same program when redis-sentinel is not installed.
      processes.spawn(sentinelBinary ?? 'redis-server', sentinelBinary ? [configFile] : [configFile, '--sentinel']);
    }
    const sentinelAsk = (port: number, ...args: string[]): Promise<unknown> => ask(port, sentinelPassword, ...args);
    for (const port of sentinelPorts) {
      await waitUntil(async () => {
        const replicas = (await sentinelAsk(port, 'SENTINEL', 'REPLICAS', masterName)) as string[][] | undefined;
        const sentinels = (await sentinelAsk(port, 'SENTINEL', 'SENTINELS', masterName)) as string[][] | undefined;
        const healthy = (replicas ?? []).filter((fields) => {
          const flags = fields[fields.indexOf('flags') + 1] ?? '';
          return flags === 'slave' && fields[fields.indexOf('master-link-status') + 1] === 'ok';
        });
        return healthy.length === replicaCount && (sentinels ?? []).length === sentinelCount - 1;
      }, `the sentinel on port ${port} to know every replica and sentinel`);
    }

    const masterOf = async (port: number): Promise<number | undefined> => {
      const address = (await sentinelAsk(port, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName)) as
        | string[]
        | undefined;
      return address === undefined ? undefined : Number(address[1]);
    };
    const agreedMaster = async (): Promise<number | undefined> => {
      const named = await Promise.all(sentinelPorts.map(masterOf));
      return named.every((port) => port !== undefined && port === named[0]) ? named[0] : undefined;
    };
    const master = async (): Promise<number> => {
      let port: number | undefined;
      await waitUntil(async () => {
        port = await agreedMaster();
        return port !== undefined;
      }, 'the sentinels to agree on a master');
      return port!;
    };
    /** Waits until every sentinel names a master other than `old` and that node says it is one. */
    const newMaster = async (old: number): Promise<number> => {
      let port: number | undefined;
      await waitUntil(
        async () => {
          port = await agreedMaster();
          if (port === undefined || port === old) return false;
          const role = (await ask(port, password, 'ROLE')) as unknown[] | undefined;
          return role?.[0] === 'master';
        },
        'the sentinels to promote a replica',
        20_000,
      );
      return port!;
    };

    return {
      masterName,
      dataPorts,
      sentinelPorts,
      master,
      failover: async () => {
        const old = await master();
        const reply = await sentinelAsk(sentinelPorts[0]!, 'SENTINEL', 'FAILOVER', masterName);
        if (reply !== 'OK') throw new Error('SENTINEL FAILOVER was refused');
        return newMaster(old);
      },
      killMaster: async () => {
        const old = await master();
        const child = data.get(old);
        if (child === undefined) throw new Error(`no node of this set on port ${old}`);
        await processes.kill(child);
        return newMaster(old);
      },
      stop: () => processes.stop(),
    };
  });
}

export async function startTestCluster(): Promise<TestCluster> {
  requireRedisServer();
  const processes = new Processes(mkdtempSync(join(tmpdir(), 'switchboard-cluster-')));
  const { directory } = processes;
  const port = await freePort();
  return processes.guard(async () => {
    processes.spawn('redis-server', [
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
    await waitForPing(port, undefined, 'the Redis Cluster node');
    await ask(port, undefined, 'CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
    await waitUntil(
      async () => String(await ask(port, undefined, 'CLUSTER', 'INFO')).includes('cluster_state:ok'),
      'the Redis Cluster',
    );
    return { port, stop: () => processes.stop() };
  });
}
