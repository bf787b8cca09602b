import type { Cluster, Redis } from 'ioredis';

// Confirming a write only once replicas hold it. Redis replicates asynchronously: a master can answer a
// script and die before its replica has the write, and the replica promoted in its place never saw it.
// WAIT, sent on the same connection right after the script, blocks until that many replicas hold every
// write the connection made (or the timeout passes). Scripts cannot call WAIT themselves.

/** How many replicas must acknowledge a write before the ledger confirms it. */
export interface ReplicaWait {
  replicas: number;
  timeoutMs: number;
}

/** Thrown when too few replicas acknowledged in time: the write happened on the master, unconfirmed. */
export class ReplicaLagError extends Error {}

/**
 * Sends a script command and WAIT in one pipeline (one connection: on a cluster, the node serving the
 * script's key). Answers the script's reply once `wait.replicas` replicas acknowledged it.
 */
export async function callAndWait(
  client: Redis | Cluster,
  wait: ReplicaWait,
  command: string,
  args: readonly (string | number)[],
): Promise<unknown> {
  const results = await client
    .pipeline()
    .call(command, ...args)
    .call('WAIT', wait.replicas, wait.timeoutMs)
    .exec();
  const [[error, reply] = [], [waitError, acknowledged] = []] = results ?? [];
  if (error) {
    // A MOVED inside a pipeline is not followed by ioredis: learn the new owner for the next call.
    if (client.isCluster && error.message.startsWith('MOVED')) (client as Cluster).refreshSlotsCache();
    throw error;
  }
  if (waitError) throw waitError;
  if (Number(acknowledged) < wait.replicas) {
    throw new ReplicaLagError(
      `written on the master but acknowledged by ${String(acknowledged)} of ${wait.replicas} replicas within ${wait.timeoutMs} ms: retry with the same idempotency key`,
    );
  }
  return reply;
}
