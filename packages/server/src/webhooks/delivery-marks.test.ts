import { LedgerEventLog, SYSTEM_TENANT } from '@cycles-guard/core/ledger-kit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatMark, parseMark, publishedBy } from './delivery-marks.ts';

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
          const tag = mine.publisherTag;
          expect(tag).toMatch(/^[0-9a-z]{6}$/);
          for (const event of publish(mine, count)) expect(publishedBy(event, tag)).toBe(true);
          // Two logs share a tag with probability 36^-6: the check is that this pair's tags differ.
          if (other.publisherTag !== tag) {
            for (const event of publish(other, count)) expect(publishedBy(event, tag)).toBe(false);
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
});
