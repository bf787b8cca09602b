import { randomBytes } from 'node:crypto';
import type { Clock } from '@cycles-guard/core/ledger-kit';
import type { ProtocolEvent } from '@cycles-guard/core/webhooks';
import type { DeliveryRecord } from './delivery.ts';
import type { SubscriptionRecord } from './subscription.ts';

/** Drafts new deliveries: ids unique across servers and runs, sequences that order the listing. */
export class DeliveryDrafts {
  /** Random per dispatcher, so ids from other servers and earlier runs never collide. */
  private readonly idPrefix = `whdel_${randomBytes(6).toString('hex')}`;
  private deliveries = 0;
  private lastSequence = 0;

  constructor(private readonly clock: Clock) {}

  /** A new PENDING delivery of `event` to `subscription`, not stored yet. */
  draft(subscription: SubscriptionRecord, event: ProtocolEvent): DeliveryRecord {
    const now = this.clock.now();
    const delivery: DeliveryRecord = {
      delivery_id: this.nextDeliveryId(),
      subscription_id: subscription.subscription_id,
      event_id: event.event_id,
      event_type: event.event_type,
      status: 'PENDING',
      attempted_at: new Date(now).toISOString(),
      attempts: 0,
      sequence: this.nextSequence(now),
      createdMs: now,
      dueMs: now,
      event,
    };
    if (event.trace_id !== undefined) {
      delivery.trace_id = event.trace_id;
      delivery.trace_flags = '01';
    }
    return delivery;
  }

  /** A unique delivery id: the instance's random prefix and a counter (20 hex digits until 2^32). */
  private nextDeliveryId(): string {
    return `${this.idPrefix}${(this.deliveries++).toString(16).padStart(8, '0')}`;
  }

  /** Increasing per instance, and by time across instances (µs since the epoch): orders the listing. */
  private nextSequence(now: number): number {
    this.lastSequence = Math.max(this.lastSequence + 1, now * 1000);
    return this.lastSequence;
  }
}
