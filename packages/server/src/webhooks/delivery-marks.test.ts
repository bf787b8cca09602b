import { LedgerEventLog, SYSTEM_TENANT } from '@cycles-guard/core/ledger-kit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatMark, parseMark, publishedBy, publisherTag } from './delivery-marks.ts';

// A dead server's resend takes only its own events, told apart by the tag core's event log puts in
// every id. Checked against real event logs (not ids built here), at any clock reading and counter.

function publish(log: LedgerEventLog, count: number) {
  return log.publish(
    Array.from({ length: count }, () => ({
      type: 'system.webhook_test' as const,
      tenant: SYSTEM_TENANT,
      data: { component: 'test', message: 'm' },
    })),
  );
}

describe('delivery marks', () => {
  it('tell the events of one event log from another’s, whatever the clock and however many events', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4_102_444_800_000 }),
        fc.integer({ min: 1, max: 40 }),
        (nowMs, count) => {
          const clock = { now: () => nowMs };
          const mine = new LedgerEventLog({}, clock);
          const other = new LedgerEventLog({}, clock);
          const [first, ...rest] = publish(mine, count);
          const tag = publisherTag(first!);
          expect(tag).toBeDefined();
          for (const event of [first!, ...rest]) expect(publishedBy(event, tag!)).toBe(true);
          const others = publish(other, count);
          // Two logs share a tag with probability 36^-6: the check is that this pair's tags differ.
          if (publisherTag(others[0]!) !== tag) {
            for (const event of others) expect(publishedBy(event, tag!)).toBe(false);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('read back what they store, and refuse a malformed value', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4_102_444_800_000 }),
        fc.integer({ min: 0, max: 4_102_444_800_000 }),
        fc.option(fc.stringMatching(/^[0-9a-z]{1,6}$/), { nil: undefined }),
        (fromMs, beatMs, tag) => {
          const raw = formatMark(fromMs, beatMs, tag);
          expect(parseMark('a1', raw)).toEqual({ instance: 'a1', fromMs, beatMs, tag, raw });
        },
      ),
    );
    expect(parseMark('a1', 'x|1|t')).toBeUndefined();
    expect(parseMark('a1', '1')).toBeUndefined();
  });

  it('find no tag in an id of another form', () => {
    expect(publisherTag({ event_id: 'evt_1', timestamp: '2026-01-01T00:00:00.000Z' })).toBeUndefined();
  });
});
