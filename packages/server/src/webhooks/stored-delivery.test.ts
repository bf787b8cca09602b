import type { ProtocolEvent } from '@cycles-guard/core/webhooks';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DeliveryRecord, DeliveryStatus } from './delivery.ts';
import { decodeDelivery, encodeDelivery } from './stored-delivery.ts';

// A stored record must read back as the record the listing, the crash recovery and a restart read from
// the plain JSON object: the same fields and values, and for a finished one (the listing shows it) the
// same order. Records are built the way the dispatcher builds them: drafted, then each attempt's outcome
// set, then finished or scheduled for a retry.

const event: ProtocolEvent = {
  event_id: 'evt_mia2b3kzabc123000001',
  event_type: 'budget.threshold_crossed',
  category: 'budget',
  timestamp: '2026-12-07T13:00:00.000Z',
  tenant_id: 'acme',
  source: 'cycles-guard',
  data: { scope: 'tenant:acme', text: 'quote " and \\ backslash, ünïcödé' },
};

const attempt = fc.record({
  status: fc.option(fc.integer({ min: 100, max: 599 }), { nil: undefined }),
  timeMs: fc.nat({ max: 20_000 }),
  error: fc.option(fc.string({ maxLength: 40 }), { nil: undefined }),
});

const deliveryRecord = fc
  .record({
    id: fc.stringMatching(/^whdel_[0-9a-f]{20}$/),
    sequence: fc.nat({ max: 2 ** 52 }),
    createdMs: fc.nat({ max: 2 ** 42 }),
    trace: fc.option(fc.stringMatching(/^[0-9a-f]{32}$/), { nil: undefined }),
    attempts: fc.array(attempt, { maxLength: 4 }),
    end: fc.constantFrom<DeliveryStatus>('PENDING', 'RETRYING', 'SUCCESS', 'FAILED'),
  })
  .map(({ id, sequence, createdMs, trace, attempts, end }) => {
    const iso = (ms: number) => new Date(ms).toISOString();
    const record: DeliveryRecord = {
      delivery_id: id,
      subscription_id: 'whsub_0123',
      event_id: event.event_id,
      event_type: event.event_type,
      status: 'PENDING',
      attempted_at: iso(createdMs),
      attempts: 0,
      sequence,
      createdMs,
      dueMs: createdMs,
      event,
    };
    if (trace !== undefined) {
      record.trace_id = trace;
      record.trace_flags = '01';
    }
    for (const { status, timeMs, error } of attempts) {
      record.attempts++;
      record.attempted_at = iso(createdMs + timeMs);
      record.response_time_ms = timeMs;
      if (status === undefined) delete record.response_status;
      else record.response_status = status;
      if (error !== undefined) {
        record.status = 'RETRYING';
        record.error_message = error;
        record.dueMs = createdMs + timeMs + 1000;
        record.next_retry_at = iso(record.dueMs);
      }
    }
    if (end === 'SUCCESS' || end === 'FAILED') {
      record.status = end;
      record.completed_at = iso(createdMs + 30_000);
      delete record.next_retry_at;
      if (end === 'SUCCESS') delete record.error_message;
      else record.error_message = 'HTTP 500';
    } else if (end === 'RETRYING') record.status = 'RETRYING';
    return record;
  });

describe('stored delivery records', () => {
  it('read back as the JSON object would: a finished one without its event, an unfinished one with it', () => {
    fc.assert(
      fc.property(deliveryRecord, (record) => {
        const decoded = decodeDelivery(record.subscription_id, encodeDelivery(record));
        const finished = record.status === 'SUCCESS' || record.status === 'FAILED';
        const { event: _event, ...withoutEvent } = record;
        const expected = finished ? withoutEvent : record;
        expect(decoded).toEqual(expected);
        // The listing shows finished ones: their order too (an unfinished one's event comes last).
        if (finished) expect(JSON.stringify(decoded)).toBe(JSON.stringify(expected));
      }),
      { numRuns: 2000 },
    );
  });

  it('store a succeeded delivery in well under half the bytes of its JSON object', () => {
    fc.assert(
      fc.property(
        deliveryRecord.filter((record) => record.status === 'SUCCESS'),
        (record) => {
          const { event: _event, ...withoutEvent } = record;
          expect(encodeDelivery(record).length).toBeLessThan(JSON.stringify(withoutEvent).length * 0.6);
        },
      ),
    );
  });

  it('read a record stored as the JSON object (written before the compact form) as it was', () => {
    fc.assert(
      fc.property(deliveryRecord, (record) => {
        const { event: _event, ...withoutEvent } = record;
        expect(decodeDelivery(record.subscription_id, JSON.stringify(withoutEvent))).toEqual(withoutEvent);
      }),
    );
  });
});
