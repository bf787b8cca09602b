import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CallRecord } from './call-record.ts';
import { openRecord } from './call-record.ts';
import { SettledCalls } from './settled-calls.ts';

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

/** A record told apart by its start time. */
function record(id: number): CallRecord {
  const opened = {
    type: 'fail-open',
    timeMs: 0,
    subject: { tenant: 'acme' },
    action: { kind: 'tool.call', name: 'search' },
    unit: 'USD_MICROCENTS',
    estimate: 1,
    code: 'UNAVAILABLE',
    message: '',
  } as const;
  return openRecord(opened, undefined, id, undefined);
}

describe('SettledCalls: finished calls written on the next turn', () => {
  it('writes in settlement order, drops the oldest past the bound, on the next turn or on flush (model-based)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.constantFrom('push', 'push', 'push', 'turn', 'flush'), { maxLength: 40 }),
        async (max, steps) => {
          const written: number[] = [];
          let flushes = 0;
          const queue = new SettledCalls(
            (settled) => written.push(settled.startedAt),
            max,
            () => flushes++,
          );
          // The model: a list cut to its newest `max`, emptied in order by a turn or a flush.
          let waiting: number[] = [];
          const expected: number[] = [];
          let dropped = 0;
          let next = 0;
          for (const step of steps) {
            if (step === 'push') {
              if (waiting.length >= max) {
                waiting = waiting.slice(1);
                dropped++;
              }
              waiting.push(next);
              queue.push(record(next++));
            } else {
              if (step === 'turn') await nextTurn();
              else queue.flush();
              expected.push(...waiting);
              waiting = [];
            }
            expect(queue.waiting).toBe(waiting.length);
            expect(written).toEqual(expected);
            expect(queue.dropped).toBe(dropped);
          }
          await nextTurn();
          expect(written).toEqual([...expected, ...waiting]);
          expect(queue.waiting).toBe(0);
          expect(flushes).toBeGreaterThanOrEqual(steps.includes('push') ? 1 : 0);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('a record whose write throws loses no other record', async () => {
    const written: number[] = [];
    const queue = new SettledCalls(
      (settled) => {
        if (settled.startedAt === 1) throw new Error('exporter down');
        written.push(settled.startedAt);
      },
      10,
      () => {},
    );
    for (let id = 0; id < 3; id++) queue.push(record(id));
    expect(written).toEqual([]);
    await nextTurn();
    expect(written).toEqual([0, 2]);
  });

  it('keeps memory to the bound when a turn settles far more than it (the dropped slots are cut off)', () => {
    const queue = new SettledCalls(
      () => {},
      3,
      () => {},
    );
    for (let id = 0; id < 10_000; id++) queue.push(record(id));
    expect(queue.waiting).toBe(3);
    expect(queue.dropped).toBe(9_997);
    queue.flush();
    expect(queue.waiting).toBe(0);
  });
});
