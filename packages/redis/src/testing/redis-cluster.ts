import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { type RedisServer, type RedisServerOptions, startRedisServer } from './redis-server.ts';

const run = promisify(execFile);

/** A Redis Cluster this process started on loopback: masters with replicas, each its own redis-server. */
export interface RedisClusterHandle {
  /** Seed nodes for `createRedisLedger({ cluster })`: every node's `host:port`. */
  nodes: string[];
  /** The `host:port` of every node that is a master right now. */
  masters(): Promise<string[]>;
  /** The master serving a key right now (`host:port`). */
  masterOf(key: string): Promise<string>;
  /**
   * Kills a node without warning (SIGKILL), as a crashed machine: its replica is promoted only once the
   * others see it down (node timeout), not on request.
   */
  crash(node: string): Promise<void>;
  /** Starts a crashed node again on its port and data: it rejoins (a failed-over master as a replica). */
  restart(node: string): Promise<void>;
  /**
   * Resolves once every shard has a live master again (after a crash: its replica was promoted), every
   * live node says `cluster_state:ok` and all slots are served.
   */
  healthy(timeoutMs?: number): Promise<void>;
  /** Resolves once healthy and every master has all its replicas attached and in sync (`state=online`). */
  replicated(timeoutMs?: number): Promise<void>;
  /** Stops every node and deletes their data directories. */
  remove(): Promise<void>;
}

/** Options of {@link startRedisCluster}. */
export interface RedisClusterOptions {
  /** @default 3 */
  masters?: number;
  /** @default 1 */
  replicasPerMaster?: number;
  /** `cluster-node-timeout`: how long a silent node takes to be failed over. @default 1000 */
  nodeTimeoutMs?: number;
  /** The redis-cli binary (default `REDIS_CLI_BIN`, else `redis-cli` on PATH). */
  cli?: string;
  /** `appendfsync` of every node. @default 'everysec' */
  appendfsync?: 'always' | 'everysec' | 'no';
}

/**
 * A node listens on a free port and on that port + 10000 (the cluster bus), which may be taken, as may
 * the free port itself by the time the node binds it (clusters of parallel test files): such a node
 * exits at once, and is started again on another port.
 */
async function startClusterNode(options: RedisServerOptions): Promise<RedisServer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startRedisServer(options);
    } catch (error) {
      if (attempt === 5 || !/exited with/.test(String(error))) throw error;
    }
  }
}

/**
 * Starts a Redis Cluster for tests and benchmarks (Debian's `redis-server` and `redis-cli`, or
 * `REDIS_SERVER_BIN` / `REDIS_CLI_BIN`): each node on a free loopback port with its own data directory
 * and AOF, joined with `redis-cli --cluster create`. Throws, naming the fix, when a binary is missing:
 * tests fail rather than skip.
 */
export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisClusterHandle> {
  const masters = options.masters ?? 3;
  const replicas = options.replicasPerMaster ?? 1;
  const cli = options.cli ?? process.env.REDIS_CLI_BIN ?? 'redis-cli';
  const servers = new Map<string, RedisServer>();
  const remove = async () => {
    await Promise.all([...servers.values()].map((server) => server.remove()));
  };
  try {
    const started = await Promise.all(
      Array.from({ length: masters * (1 + replicas) }, () =>
        startClusterNode({
          ...(options.appendfsync === undefined ? {} : { appendfsync: options.appendfsync }),
          extraArgs: [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            'nodes.conf',
            '--cluster-node-timeout',
            String(options.nodeTimeoutMs ?? 1000),
            // A replica (re)joining syncs at once, not after Redis 7's 5 s wait for more replicas.
            '--repl-diskless-sync-delay',
            '0',
          ],
        }),
      ),
    );
    for (const server of started) servers.set(`127.0.0.1:${server.port}`, server);
    const nodes = [...servers.keys()];
    await run(
      cli,
      ['--cluster', 'create', ...nodes, '--cluster-replicas', String(replicas), '--cluster-yes'],
      {
        timeout: 30_000,
      },
    ).catch((error: Error & { code?: unknown }) => {
      throw new Error(
        error.code === 'ENOENT'
          ? `cannot run ${cli}: install it (apt-get install redis-tools) or set REDIS_CLI_BIN`
          : `redis-cli --cluster create failed: ${error.message}`,
      );
    });
    const handle: RedisClusterHandle = {
      nodes,
      masters: async () => {
        const roles = await Promise.all(
          nodes.map(async (node) =>
            ((await ask(servers, node, ['ROLE'])) as unknown[] | undefined)?.[0] === 'master'
              ? node
              : undefined,
          ),
        );
        return roles.filter((node) => node !== undefined);
      },
      masterOf: async (key) => {
        const slot = (await ask(servers, nodes[0]!, ['CLUSTER', 'KEYSLOT', key])) as number;
        for (const node of nodes) {
          const shards = (await ask(servers, node, ['CLUSTER', 'SLOTS'])) as Array<
            [number, number, [string, number]]
          >;
          if (shards === undefined) continue;
          const shard = shards.find(([from, to]) => from <= slot && slot <= to);
          if (shard !== undefined) return `${shard[2][0]}:${shard[2][1]}`;
        }
        throw new Error(`no live node serves slot ${slot}`);
      },
      crash: async (node) => {
        const server = servers.get(node);
        if (server === undefined) throw new Error(`${node} is not a node of this cluster`);
        await server.crash();
      },
      restart: async (node) => {
        const server = servers.get(node);
        if (server === undefined) throw new Error(`${node} is not a node of this cluster`);
        await server.restart();
      },
      healthy: async (timeoutMs = 20_000) => {
        const deadline = Date.now() + timeoutMs;
        while ((await handle.masters()).length < masters) {
          if (Date.now() > deadline) throw new Error(`no replica was promoted within ${timeoutMs} ms`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        await healthy(servers, Math.max(0, deadline - Date.now()));
      },
      replicated: async (timeoutMs = 20_000) => {
        const deadline = Date.now() + timeoutMs;
        await handle.healthy(timeoutMs);
        for (;;) {
          const current = await handle.masters();
          const infos = await Promise.all(current.map((node) => ask(servers, node, ['INFO', 'replication'])));
          const online = infos.map((info) => (String(info).match(/state=online/g) ?? []).length);
          if (online.every((count) => count >= replicas)) return;
          if (Date.now() > deadline) throw new Error(`replicas not in sync after ${timeoutMs} ms`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      },
      remove,
    };
    // A replica that never synced is too stale to be promoted: start only once all are in sync.
    await handle.replicated();
    return handle;
  } catch (error) {
    await remove();
    throw error;
  }
}

/** One command on one node (undefined when the node does not answer: crashed). */
async function ask(servers: Map<string, RedisServer>, node: string, command: string[]): Promise<unknown> {
  const server = servers.get(node);
  if (server === undefined) return undefined;
  const client = new Redis(server.port, '127.0.0.1', {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 500,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    return await client.call(command[0]!, ...command.slice(1));
  } catch {
    return undefined;
  } finally {
    client.disconnect();
  }
}

/** Every live node reports `cluster_state:ok` and all 16,384 slots served by live masters. */
async function healthy(servers: Map<string, RedisServer>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answers = await Promise.all(
      [...servers.keys()].map((node) => ask(servers, node, ['CLUSTER', 'INFO'])),
    );
    const live = answers.filter((info): info is string => typeof info === 'string');
    if (
      live.length > 0 &&
      live.every((info) => /cluster_state:ok/.test(info) && /cluster_slots_ok:16384/.test(info))
    ) {
      return;
    }
    if (Date.now() > deadline)
      throw new Error(`the cluster is not healthy after ${timeoutMs} ms: ${live[0] ?? 'no node answers'}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
