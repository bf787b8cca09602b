import { createHash } from 'node:crypto';
import {
  isOutboxKey,
  type OutboxEntry,
  parseOutboxEntry,
  type SettlementStore,
} from '@cycles-guard/core/ledger-kit';
import type { Cluster, ClusterNode, Redis } from 'ioredis';
import { GLOBAL_TAG, partitionPrefix } from './keys.ts';

// The settlement outbox in the ledger's own Redis: any instance sharing the Redis (and key prefix)
// replays what another instance could not settle, even if that instance never comes back. When Redis
// itself is what failed, the put fails fast and core keeps the entry in its local file journal.

/** Options of {@link createRedisOutbox}. */
export interface RedisOutboxOptions {
  /** The ledger's key prefix: entries live in the hash `<prefix>outbox` (`<prefix>{_}outbox` on a cluster). */
  keyPrefix: string;
  /** Longest wait for Redis (a stopped server answers nothing): past it the call throws. */
  timeoutMs: number;
}

/** An outbox store on `client` (one hash of JSON entries; corrupt ones move to `<prefix>outbox:quarantine`). */
export function createRedisOutbox(client: Redis | Cluster, options: RedisOutboxOptions): SettlementStore {
  // On a cluster both hashes carry the global tag: one slot, so the quarantine MULTI is allowed.
  const prefix = partitionPrefix(options.keyPrefix, client.isCluster ? GLOBAL_TAG : undefined);
  const key = `${prefix}outbox`;
  const quarantine = `${prefix}outbox:quarantine`;
  // The ledger's client sends nothing while disconnected (no offline queue): wait for it to be ready.
  const bounded = <T>(command: () => Promise<T>) =>
    withTimeout(ready(client).then(command), options.timeoutMs);
  return {
    name: `redis ${key}`,
    async put(entry: OutboxEntry) {
      // Durability is the Redis server's (AOF `appendfsync everysec` or `always` for power loss).
      if (!isOutboxKey(entry.key)) throw new Error(`outbox key ${JSON.stringify(entry.key)} is not valid`);
      await bounded(() => client.hset(key, entry.key, JSON.stringify(entry)));
    },
    async remove(entryKey: string) {
      await bounded(() => client.hdel(key, entryKey));
    },
    async list() {
      const stored = await bounded(() => client.hgetall(key));
      const entries: OutboxEntry[] = [];
      for (const [field, text] of Object.entries(stored)) {
        const entry = parseOutboxEntry(text);
        if (entry !== undefined && entry.key === field) {
          entries.push(entry);
          continue;
        }
        // Kept aside for inspection, never replayed nor deleted.
        await bounded(() =>
          client.multi().hset(quarantine, `${Date.now()}-${field}`, text).hdel(key, field).exec(),
        );
      }
      return entries;
    },
  };
}

/** The outbox identity of a Redis ledger: its URL and key prefix, as a digest (the URL may hold a password). */
export function redisIdentity(url: string, keyPrefix: string): string {
  return `redis ${createHash('sha256').update(`${url}\n${keyPrefix}`).digest('hex').slice(0, 24)}`;
}

/** The identity and outbox store a Redis ledger gives core's settlement outbox. */
export function redisOutboxWiring(
  client: Redis | Cluster,
  options: {
    url?: string;
    cluster?: ClusterNode[];
    keyPrefix?: string;
    operationTimeoutMs?: number;
    client?: Redis | Cluster;
  },
): { identity: string; createSettlementStore(): SettlementStore } {
  const keyPrefix = options.keyPrefix ?? 'cycles:';
  const url = storeUrl(options);
  return {
    identity: redisIdentity(url, keyPrefix),
    createSettlementStore: () =>
      createRedisOutbox(client, { keyPrefix, timeoutMs: options.operationTimeoutMs ?? 2000 }),
  };
}

/** A URL naming where the ledger's data lives (the outbox identity; a cluster by its seed nodes). */
function storeUrl(options: { url?: string; cluster?: ClusterNode[]; client?: Redis | Cluster }): string {
  const { client, cluster } = options;
  if (client?.isCluster === true) {
    const masters = (client as Cluster)
      .nodes('master')
      .map((node) => `${node.options.host}:${node.options.port}`);
    return `redis-cluster://${masters.sort().join(',')}`;
  }
  if (client !== undefined) {
    const { host, port } = (client as Redis).options;
    return `redis://${host}:${port}`;
  }
  if (cluster !== undefined) {
    const nodes = cluster.map((node) =>
      typeof node === 'object' ? `${node.host}:${node.port}` : String(node),
    );
    return `redis-cluster://${nodes.sort().join(',')}`;
  }
  return options.url ?? 'redis://127.0.0.1:6379';
}

function ready(client: Redis | Cluster): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  if (client.status === 'wait') client.connect().catch(() => {});
  if (client.status === 'end') return Promise.reject(new Error('the Redis client was closed'));
  return new Promise((resolve) => client.once('ready', () => resolve()));
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Redis did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
