import type { DeliveryRecord } from './delivery.ts';

/** Unfinished deliveries a subscription may have on one server, by default (`webhookMaxBacklog`). */
export const DEFAULT_MAX_BACKLOG = 1000;

/**
 * The deliveries each subscription has unfinished on this server: drafted and not yet answered (waiting
 * for a connection, in flight, or waiting for a retry). Bounded per subscription, so an endpoint that
 * answers slower than its events arrive (never failing, so never auto-disabled) cannot grow the
 * server's memory without end: a delivery past the bound is not sent (`DeliveryAttempts.overflow`).
 */
export class DeliveryBacklog {
  private readonly held = new Map<string, Set<string>>();

  constructor(readonly max: number) {}

  /** Holds `delivery` unless its subscription holds `max` others already; true if it is held. */
  admit(delivery: DeliveryRecord): boolean {
    const ids = this.held.get(delivery.subscription_id);
    if (ids !== undefined && !ids.has(delivery.delivery_id) && ids.size >= this.max) return false;
    this.hold(delivery);
    return true;
  }

  /** Holds `delivery` whatever the bound (a delivery resumed from the store was admitted under it). */
  hold(delivery: DeliveryRecord): void {
    let ids = this.held.get(delivery.subscription_id);
    if (ids === undefined) {
      ids = new Set();
      this.held.set(delivery.subscription_id, ids);
    }
    ids.add(delivery.delivery_id);
  }

  /** The delivery is finished here (answered, failed for good, or no longer this server's). */
  release(delivery: DeliveryRecord): void {
    const ids = this.held.get(delivery.subscription_id);
    if (ids?.delete(delivery.delivery_id) && ids.size === 0) this.held.delete(delivery.subscription_id);
  }

  /** How many deliveries of a subscription are held. */
  size(subscriptionId: string): number {
    return this.held.get(subscriptionId)?.size ?? 0;
  }
}
