import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A real redis-server for a test suite, on a free loopback port (never 6379: other things use
 * it), keeping nothing on disk. `TEST_REDIS_URL` points the tests at an existing server instead.
 */
export interface TestRedis {
  readonly url: string;
  readonly port: number;
  /** Stops the server (a Redis outage); `start()` brings it back on the same port. */
  kill(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Freezes the server (SIGSTOP): connections stay open and nothing answers, a hung Redis. */
  freeze(): void;
  /** Lets a frozen server run again (SIGCONT). */
  thaw(): void;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function ping(port: number, password: string | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    const auth = password === undefined ? '' : `*2\r\n$4\r\nAUTH\r\n$${Buffer.byteLength(password)}\r\n${password}\r\n`;
    let replies = '';
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write(`${auth}PING\r\n`));
    socket.on('data', (data) => {
      replies += data.toString();
      if (replies.includes('+PONG')) done(true);
      else if (replies.includes('-')) done(false);
    });
  });
}

export interface TestRedisOptions {
  /**
   * Starts the server with `--requirepass`; the URL then carries the password (percent-encoded).
   * Not applied to a server given by TEST_REDIS_URL, whose URL is used as it is.
   */
  readonly password?: string;
  /**
   * Keeps every write in an append-only file (fsync on each), in the server's own directory, so a
   * server killed and started again (`kill()`, `start()`) comes back with its data.
   */
  readonly persistent?: boolean;
}

export async function startTestRedis(options: TestRedisOptions = {}): Promise<TestRedis> {
  const external = process.env.TEST_REDIS_URL;
  if (external !== undefined && external !== '') {
    const port = Number(new URL(external).port || 6379);
    const noop = async (): Promise<void> => undefined;
    const unsupported = (): void => {
      throw new Error('freezing needs a redis-server started by the tests, not TEST_REDIS_URL');
    };
    return { url: external, port, kill: noop, start: noop, stop: noop, freeze: unsupported, thaw: unsupported };
  }
  const found = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (found.error !== undefined || found.status !== 0) {
    throw new Error(
      'These tests need a Redis server: install redis-server (apt-get install redis-server) or set TEST_REDIS_URL.',
    );
  }
  const password = options.password;
  const port = await freePort();
  const directory = mkdtempSync(join(tmpdir(), 'switchboard-redis-'));
  let child: ChildProcess | undefined;

  const start = async (): Promise<void> => {
    child = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        options.persistent === true ? 'yes' : 'no',
        ...(options.persistent === true ? ['--appendfsync', 'always'] : []),
        '--dir',
        directory,
        ...(password === undefined ? [] : ['--requirepass', password]),
      ],
      { stdio: 'ignore' },
    );
    for (let attempt = 0; attempt < 100; attempt++) {
      if (await ping(port, password)) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`redis-server did not start on port ${port}`);
  };
  const kill = async (): Promise<void> => {
    const running = child;
    if (running === undefined || running.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      running.once('exit', () => resolve());
      running.kill('SIGKILL');
    });
    child = undefined;
  };

  await start();
  return {
    url: `redis://${password === undefined ? '' : `:${encodeURIComponent(password)}@`}127.0.0.1:${port}`,
    port,
    kill,
    start,
    freeze: () => child?.kill('SIGSTOP'),
    thaw: () => child?.kill('SIGCONT'),
    stop: async () => {
      child?.kill('SIGCONT');
      await kill();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
