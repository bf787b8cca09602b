import type { Cluster, Redis } from 'ioredis';

/**
 * Resolves once `client` is connected. The ledger connects lazily (on its first operation) and queues
 * nothing offline, so code sharing its client outside the ledger's operations (event and webhook
 * stores) waits here first; an unreachable Redis fails after `timeoutMs`.
 */
export async function whenConnected(client: Redis | Cluster, timeoutMs = 2000): Promise<void> {
  if (client.status === 'ready') return;
  if (client.status === 'end') throw new Error('the Redis connection was closed');
  if (client.status === 'wait') client.connect().catch(() => {});
  await new Promise<void>((resolve, reject) => {
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      reject(new Error('Redis is not reachable'));
    }, timeoutMs);
    client.once('ready', onReady);
  });
}
