import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A redis-server this process started, on a free port with its own data directory (AOF on). */
export interface RedisServer {
  url: string;
  port: number;
  /** Stops the server (SIGTERM: AOF flushed); idempotent. The data directory is kept until `remove()`. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data directory (state reloaded from the AOF). */
  restart(): Promise<void>;
  /** Kills the server without warning (SIGKILL): only what the AOF already holds survives. */
  crash(): Promise<void>;
  /** Freezes the process (SIGSTOP): connections stay open but nothing answers. `resume()` undoes it. */
  pause(): void;
  resume(): void;
  /** Stops the server and deletes its data directory. */
  remove(): Promise<void>;
}

/** Options of {@link startRedisServer}. */
export interface RedisServerOptions {
  /** The binary (default `REDIS_SERVER_BIN`, else `redis-server` on PATH). */
  binary?: string;
  /** `appendfsync` policy (default `everysec`; SIGTERM flushes either way). */
  appendfsync?: 'always' | 'everysec' | 'no';
  /** More `redis-server` arguments, e.g. `['--rename-command', 'FCALL', '']` to mimic Redis 6. */
  extraArgs?: string[];
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

async function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.connect(port, '127.0.0.1');
  });
}

/**
 * Starts Debian's `redis-server` for tests and benchmarks. Throws (never skips) when the binary is
 * missing, naming the fix: `apt-get install redis-server` or `REDIS_SERVER_BIN=/path/to/redis-server`.
 */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const binary = options.binary ?? process.env.REDIS_SERVER_BIN ?? 'redis-server';
  const dir = mkdtempSync(join(tmpdir(), 'cycles-redis-'));
  const port = await freePort();
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const launch = async () => {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes'];
    args.push('--appendfsync', options.appendfsync ?? 'everysec', '--save', '', '--daemonize', 'no');
    args.push(...(options.extraArgs ?? []));
    const started = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    started.stderr?.on('data', (chunk) => {
      stderr += String(chunk);
    });
    const failure = new Promise<never>((_, reject) => {
      started.once('error', (error) =>
        reject(
          new Error(
            `cannot start ${binary} (${error.message}): install it (apt-get install redis-server) or set REDIS_SERVER_BIN`,
          ),
        ),
      );
      started.once('exit', (code) =>
        reject(new Error(`${binary} exited with ${code} before accepting: ${stderr}`)),
      );
    });
    failure.catch(() => {});
    exited = new Promise((resolve) => started.once('exit', () => resolve()));
    child = started;
    const deadline = Date.now() + 10_000;
    while (!(await Promise.race([accepting(port), failure]))) {
      if (Date.now() > deadline)
        throw new Error(`${binary} did not accept connections on ${port} within 10 s`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    const running = child;
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
    running.kill('SIGCONT');
    running.kill(signal);
    await exited;
    child = undefined;
  };

  try {
    await launch();
  } catch (error) {
    await stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop: () => stop(),
    crash: () => stop('SIGKILL'),
    restart: async () => {
      await stop();
      await launch();
    },
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
    remove: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
