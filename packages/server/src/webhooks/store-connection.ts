import { randomBytes } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import type { LedgerEventLog } from '@cycles-guard/core/ledger-kit';
import type { ProtocolEvent } from '@cycles-guard/core/webhooks';

// `system.store_connection_lost` and `system.store_connection_restored` (GOV `EventDataSystem`) from the
// Redis client's own connection events: lost at the first `close` or `end` after the connection was
// ready, restored at the next `ready`; the reconnect attempts between (each its own `close`) add
// nothing, so an outage is one pair of events per server. The lost event cannot be stored while the
// store is down: it reaches the in-process listeners (webhooks) at once, and is stored when the
// connection is back, before the restored one. Both are the admin's (`__system__`, category `system`).
//
// One pair per server, not per store outage: the spec's events are "Backing store connection lost" /
// "recovered", and each server has its own connection, which can be cut alone (a partition, its own
// network). No server can tell a store outage from its own cut-off while it lasts, nor write the store
// to claim the event, and the lost event is worth sending at once, not at the restore. So each pair
// names its server (`details.instance`: host, pid and a per-start suffix), and a receiver that wants one
// alert per outage groups the pairs by time.

/** What the watcher reads of an ioredis client (single node or Cluster). */
export type ConnectionEvents = Pick<EventEmitter, 'on' | 'off'> & { status: string };

/** Emits the store's connection events; answers a function that stops watching (before a deliberate close). */
export function watchStoreConnection(
  client: ConnectionEvents,
  log: LedgerEventLog,
  now: () => number,
  store = 'redis',
  instance = `${hostname()}/${process.pid}/${randomBytes(3).toString('hex')}`,
): () => void {
  let ready = client.status === 'ready';
  let lost: { at: number; event: ProtocolEvent | undefined } | undefined;
  let lastError: string | undefined;

  const onError = (error: Error) => {
    lastError = error.message.slice(0, 200);
  };
  const onDown = () => {
    if (!ready || lost !== undefined) return;
    ready = false;
    const [event] = log.publish([
      {
        type: 'system.store_connection_lost',
        tenant: undefined,
        data: {
          component: 'store',
          message: `The connection to ${store} was lost: budget operations fail until it is back`,
          severity: 'critical',
          details: { store, instance, ...(lastError === undefined ? {} : { error: lastError }) },
        },
      },
    ]);
    lost = { at: now(), event };
  };
  const onReady = () => {
    ready = true;
    const outage = lost;
    if (outage === undefined) return;
    lost = undefined;
    lastError = undefined;
    void storeLate(log, outage.event).finally(() => {
      log.publish([
        {
          type: 'system.store_connection_restored',
          tenant: undefined,
          data: {
            component: 'store',
            message: `The connection to ${store} is back`,
            severity: 'info',
            details: { store, instance, outage_ms: Math.max(0, now() - outage.at) },
          },
        },
      ]);
    });
  };
  client.on('error', onError);
  client.on('close', onDown);
  client.on('end', onDown);
  client.on('ready', onReady);
  return () => {
    client.off('error', onError);
    client.off('close', onDown);
    client.off('end', onDown);
    client.off('ready', onReady);
  };
}

/** Stores an event published while the store was down, unless it made it in. */
async function storeLate(log: LedgerEventLog, event: ProtocolEvent | undefined): Promise<void> {
  if (event === undefined) return;
  try {
    if ((await log.store.get(event.event_id)) === undefined) await log.store.append([event]);
  } catch {
    // Down again: the event reached the listeners; the next outage has its own.
  }
}
