import { Cluster, type ClusterNode, type Redis } from 'ioredis';

// The ledger's own ioredis Cluster client, and how a client names where it connects.

/** Opens a Cluster client that never acts behind a caller's back (see LedgerConnection). */
export function openCluster(nodes: ClusterNode[], timeoutMs: number): Cluster {
  return new Cluster(nodes, {
    // As the single client (connection.ts): nothing queued while the cluster is not ready, nothing
    // re-sent behind a caller's back. MOVED, ASK and TRYAGAIN are followed (the command did not
    // run); a command whose connection closed (its master died) may have run, so it is not re-sent:
    // it fails, and the caller's retry with the same idempotency key (or the settlement outbox)
    // settles it once.
    enableOfflineQueue: false,
    retryDelayOnFailover: 0,
    retryDelayOnClusterDown: 0,
    // Reads see every acknowledged write only on masters.
    scaleReads: 'master',
    slotsRefreshTimeout: timeoutMs,
    clusterRetryStrategy: (attempt) => Math.min(50 * attempt, 500),
    redisOptions: {
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      enableAutoPipelining: false,
      connectTimeout: timeoutMs,
    },
  });
}

/** `host:port` of a node given as a string or an object. */
export function nodeName(node: ClusterNode): string {
  return typeof node === 'object' ? `${node.host ?? '127.0.0.1'}:${node.port ?? 6379}` : String(node);
}

/** What a given client is connected to, for error messages. */
export function describeTarget(client: Redis | Cluster): string {
  if (client.isCluster) {
    const masters = (client as Cluster)
      .nodes('master')
      .map((node) => `${node.options.host}:${node.options.port}`);
    return `cluster ${masters.join(',') || '(given client)'}`;
  }
  const { host, port } = (client as Redis).options;
  return `${host}:${port}`;
}
