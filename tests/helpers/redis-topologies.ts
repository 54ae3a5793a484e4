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
 * Waits until every replica of the master on `port` has acknowledged everything the master had
 * written when this was called (its replication offset), and resolves with how many replicas it has.
 */
export async function waitForReplicas(port: number, password?: string): Promise<number> {
  const info = String(await ask(port, password, 'INFO', 'replication'));
  const written = Number(/master_repl_offset:(\d+)/.exec(info)?.[1]);
  let replicas = 0;
  await waitUntil(async () => {
    const now = String(await ask(port, password, 'INFO', 'replication'));
    const acknowledged = [...now.matchAll(/^slave\d+:.*offset=(\d+)/gm)].map((match) => Number(match[1]));
    replicas = acknowledged.length;
    return acknowledged.every((offset) => offset >= written);
  }, `the replicas of the master on port ${port} to catch up`);
  return replicas;
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

/**
 * Nothing on disk; replicas sync at once (by default a master waits 5 s for more replicas before a
 * diskless sync), and a master pings its replicas every second rather than every 10 (a Cluster
 * names a replica to clients only once it has seen the replica's offset move).
 */
const EPHEMERAL = [
  '--bind',
  '127.0.0.1',
  '--save',
  '',
  '--appendonly',
  'no',
  '--repl-diskless-sync-delay',
  '0',
  '--repl-ping-replica-period',
  '1',
];

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
    const running = (port: number): boolean => {
      const child = data.get(port);
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    };
    /**
     * Waits until every sentinel is done with any failover, knows every other sentinel, and sees
     * every running node but the master as a replica in sync, and until those replicas do hold
     * all the master has (sentinels read a replica's state only every few seconds, and would
     * promote one still loading its first copy): a failover can start at once and lose nothing.
     */
    const settled = async (): Promise<void> => {
      for (const port of sentinelPorts) {
        await waitUntil(
          async () => {
            const master = (await sentinelAsk(port, 'SENTINEL', 'MASTER', masterName)) as string[] | undefined;
            if (master === undefined || master[master.indexOf('flags') + 1] !== 'master') return false;
            const masterPort = Number(master[master.indexOf('port') + 1]);
            const replicas = (await sentinelAsk(port, 'SENTINEL', 'REPLICAS', masterName)) as string[][] | undefined;
            const sentinels = (await sentinelAsk(port, 'SENTINEL', 'SENTINELS', masterName)) as string[][] | undefined;
            // Known and reachable; whether in sync is asked of the nodes themselves below (a
            // sentinel refreshes what it knows of a replica only every 10 s).
            const inSync = new Set(
              (replicas ?? [])
                .filter((fields) => !/down|disconnected/.test(fields[fields.indexOf('flags') + 1] ?? 'down'))
                .map((fields) => Number(fields[fields.indexOf('port') + 1])),
            );
            const expected = dataPorts.filter((node) => node !== masterPort && running(node));
            return expected.every((node) => inSync.has(node)) && (sentinels ?? []).length === sentinelCount - 1;
          },
          `the sentinel on port ${port} to know every replica and sentinel`,
          20_000,
        );
      }
      const master = await agreedMaster();
      if (master === undefined) throw new Error('the sentinels do not agree on a master');
      const replicas = dataPorts.filter((node) => node !== master && running(node));
      for (const replica of replicas) {
        await waitUntil(
          async () => {
            const info = String(await ask(replica, password, 'INFO', 'replication'));
            return (
              info.includes(`master_port:${master}`) &&
              info.includes('master_link_status:up') &&
              info.includes('master_sync_in_progress:0')
            );
            // Sentinel reconfigures the replicas one after another: on a loaded machine it takes a while.
          },
          `the replica on port ${replica} to follow the master on port ${master}`,
          20_000,
        );
      }
      if ((await waitForReplicas(master, password)) < replicas.length) throw new Error('a replica is missing');
    };
    await settled();

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
      // The failover is over (the other replicas follow the new master) before the next may start.
      await settled();
      return port!;
    };

    return {
      masterName,
      dataPorts,
      sentinelPorts,
      master,
      failover: async () => {
        const old = await master();
        // Refused while a sentinel has no replica it deems good yet (it reads them every 10 s).
        await waitUntil(
          async () => (await sentinelAsk(sentinelPorts[0]!, 'SENTINEL', 'FAILOVER', masterName)) === 'OK',
          'a sentinel to accept SENTINEL FAILOVER',
        );
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

export interface ClusterSetOptions {
  /** Masters, each holding an even share of the slots (default 3). */
  readonly masters?: number;
  /** Replicas of each master (default 1). */
  readonly replicasPerMaster?: number;
}

/** One shard of a Cluster as it stands: its master and replicas, and the slots it holds. */
export interface ClusterShard {
  readonly master: number;
  readonly replicas: readonly number[];
}

export interface TestClusterSet extends RedisServers {
  /** Every node's port. */
  readonly ports: readonly number[];
  /** The shard serving `key`'s slot now, as the nodes still running tell it. */
  shardOf(key: string): Promise<ClusterShard>;
  /**
   * Fails the master of `key`'s slot over to its replica with CLUSTER FAILOVER (the replica catches
   * up first, so nothing is lost); resolves with the new master's port once every node agrees.
   */
  failover(key: string): Promise<number>;
  /** Kills the master of `key`'s slot (SIGKILL); resolves with the port of the replica elected in its place. */
  killMaster(key: string): Promise<number>;
}

/**
 * A Redis Cluster of `masters` masters with `replicasPerMaster` replicas each, on free ports,
 * judging a silent node failed after one second (`cluster-node-timeout 1000`). Created with
 * `redis-cli --cluster create` when redis-cli is installed, otherwise by hand (ADDSLOTSRANGE, MEET,
 * REPLICATE). Resolves once every node sees the cluster whole and every replica is in sync.
 */
export async function startClusterSet(options: ClusterSetOptions = {}): Promise<TestClusterSet> {
  requireRedisServer();
  const masterCount = options.masters ?? 3;
  const replicasPerMaster = options.replicasPerMaster ?? 1;
  const processes = new Processes(mkdtempSync(join(tmpdir(), 'switchboard-cluster-')));
  const { directory } = processes;
  const ports: number[] = [];
  for (let index = 0; index < masterCount * (1 + replicasPerMaster); index++) ports.push(await freePort());
  const nodes = new Map<number, ChildProcess>();

  return processes.guard(async () => {
    for (const port of ports) {
      nodes.set(
        port,
        processes.spawn('redis-server', [
          '--port',
          String(port),
          ...EPHEMERAL,
          '--dir',
          directory,
          '--dbfilename',
          `dump-${port}.rdb`,
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          join(directory, `nodes-${port}.conf`),
          '--cluster-node-timeout',
          '1000',
          '--cluster-announce-ip',
          '127.0.0.1',
        ]),
      );
    }
    for (const port of ports) await waitForPing(port, undefined, `the Redis Cluster node on port ${port}`);
    if (hasBinary('redis-cli')) await createWithCli(ports, replicasPerMaster);
    else await createByHand(ports, masterCount, replicasPerMaster);
    await waitForWholeCluster(ports, masterCount, replicasPerMaster);

    const running = (): number[] =>
      ports.filter((port) => nodes.get(port)?.exitCode === null && nodes.get(port)?.signalCode === null);
    const shards = async (): Promise<(ClusterShard & { readonly from: number; readonly to: number })[]> => {
      for (const port of running()) {
        const slots = (await ask(port, undefined, 'CLUSTER', 'SLOTS')) as
          | [from: number, to: number, master: [string, number], ...replicas: [string, number][]][]
          | undefined;
        if (slots === undefined) continue;
        return slots.map(([from, to, master, ...replicas]) => ({
          from,
          to,
          master: Number(master[1]),
          replicas: replicas.map((replica) => Number(replica[1])),
        }));
      }
      throw new Error('no node of the cluster answers');
    };
    const shardOf = async (key: string): Promise<ClusterShard> => {
      const slot = Number(await ask(running()[0]!, undefined, 'CLUSTER', 'KEYSLOT', key));
      const shard = (await shards()).find(({ from, to }) => from <= slot && slot <= to);
      if (shard === undefined) throw new Error(`no shard holds slot ${slot}`);
      return { master: shard.master, replicas: shard.replicas };
    };
    /** Waits until every running node names `port` the master of `key`'s slot and the cluster is whole. */
    const promoted = async (key: string, old: number): Promise<number> => {
      let port = old;
      await waitUntil(
        async () => {
          port = (await shardOf(key)).master;
          if (port === old) return false;
          for (const node of running()) {
            const info = String(await ask(node, undefined, 'CLUSTER', 'INFO'));
            if (!info.includes('cluster_state:ok')) return false;
          }
          const role = (await ask(port, undefined, 'ROLE')) as unknown[] | undefined;
          return role?.[0] === 'master';
        },
        'a replica to take over',
        20_000,
      );
      return port;
    };

    return {
      ports,
      shardOf,
      failover: async (key) => {
        const { master, replicas } = await shardOf(key);
        const replica = replicas[0];
        if (replica === undefined) throw new Error('the master has no replica to fail over to');
        if ((await ask(replica, undefined, 'CLUSTER', 'FAILOVER')) !== 'OK')
          throw new Error('CLUSTER FAILOVER refused');
        return promoted(key, master);
      },
      killMaster: async (key) => {
        const { master } = await shardOf(key);
        await processes.kill(nodes.get(master)!);
        return promoted(key, master);
      },
      stop: () => processes.stop(),
    };
  });
}

function runCli(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('redis-cli', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (data) => (output += data));
    child.stderr.on('data', (data) => (output += data));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`redis-cli ${args.join(' ')} failed:\n${output}`)),
    );
  });
}

async function createWithCli(ports: readonly number[], replicasPerMaster: number): Promise<void> {
  await runCli([
    '--cluster',
    'create',
    ...ports.map((port) => `127.0.0.1:${port}`),
    '--cluster-replicas',
    String(replicasPerMaster),
    '--cluster-yes',
  ]);
}

async function createByHand(ports: readonly number[], masterCount: number, replicasPerMaster: number): Promise<void> {
  const masters = ports.slice(0, masterCount);
  for (const [index, port] of masters.entries()) {
    const from = Math.floor((16_384 * index) / masterCount);
    const to = Math.floor((16_384 * (index + 1)) / masterCount) - 1;
    await ask(port, undefined, 'CLUSTER', 'ADDSLOTSRANGE', String(from), String(to));
  }
  for (const port of ports.slice(1)) await ask(port, undefined, 'CLUSTER', 'MEET', '127.0.0.1', String(ports[0]));
  const ids = await Promise.all(masters.map(async (port) => String(await ask(port, undefined, 'CLUSTER', 'MYID'))));
  for (const [index, port] of ports.slice(masterCount).entries()) {
    const master = ids[Math.floor(index / replicasPerMaster)]!;
    // A node can replicate a master only once it has heard of it through the gossip.
    await waitUntil(
      async () => (await ask(port, undefined, 'CLUSTER', 'REPLICATE', master)) === 'OK',
      `the node on port ${port} to replicate its master`,
    );
  }
}

async function waitForWholeCluster(
  ports: readonly number[],
  masterCount: number,
  replicasPerMaster: number,
): Promise<void> {
  for (const port of ports) {
    await waitUntil(
      async () => {
        const info = String(await ask(port, undefined, 'CLUSTER', 'INFO'));
        const known = /cluster_known_nodes:(\d+)/.exec(info)?.[1];
        if (!info.includes('cluster_state:ok') || Number(known) !== ports.length) return false;
        const role = (await ask(port, undefined, 'ROLE')) as unknown[] | undefined;
        if (role?.[0] !== 'master' && role?.[3] !== 'connected') return false;
        // Every shard with its replicas, as this node tells clients.
        const slots = ((await ask(port, undefined, 'CLUSTER', 'SLOTS')) as unknown[][] | undefined) ?? [];
        return slots.filter((shard) => shard.length - 3 === replicasPerMaster).length === masterCount;
      },
      `the Redis Cluster node on port ${port} to see the cluster whole`,
      20_000,
    );
  }
}
