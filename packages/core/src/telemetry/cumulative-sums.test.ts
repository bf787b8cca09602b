import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CumulativeSums } from './cumulative-sums.ts';

/** Every series a collection would report: its attributes (as JSON) → total. */
function collect(sums: CumulativeSums, column = 0): Map<string, number> {
  const seen = new Map<string, number>();
  sums.observe(column, (value, attributes) => {
    const key = JSON.stringify(attributes);
    expect(seen.has(key)).toBe(false);
    seen.set(key, value);
  });
  return seen;
}

describe('CumulativeSums', () => {
  it('sums per attribute set like a synchronous counter would, within the series limit (property)', () => {
    const value = fc.constantFrom('a', 'b', 'c', 'tenant:x', '');
    fc.assert(
      fc.property(
        fc.array(fc.record({ first: value, second: value, third: value, amount: fc.nat(1_000) }), {
          maxLength: 80,
        }),
        fc.integer({ min: 1, max: 200 }),
        (adds, maxSeries) => {
          const sums = new CumulativeSums(['k1', 'k2', 'k3'], 1, maxSeries);
          const expected = new Map<string, number>();
          const admitted = new Set<string>();
          let overflow: number | undefined;
          for (const { first, second, third, amount } of adds) {
            const key = JSON.stringify({ k1: first, k2: second, k3: third });
            if (!admitted.has(key) && admitted.size >= maxSeries) overflow = (overflow ?? 0) + amount;
            else {
              admitted.add(key);
              expected.set(key, (expected.get(key) ?? 0) + amount);
            }
            const cell = sums.cell(first, second, third);
            cell.totals[0] = (cell.totals[0] as number) + amount;
          }
          // Past the limit, new attribute sets share one overflow series, as the SDK's own limit does.
          if (overflow !== undefined)
            expected.set(JSON.stringify({ 'otel.metric.overflow': true }), overflow);
          expect(collect(sums)).toEqual(expected);
        },
      ),
    );
  });

  it('keeps one attribute object per series and several columns per cell', () => {
    const sums = new CumulativeSums(['model'], 2);
    const cell = sums.cell('m1');
    cell.totals[0] = 5;
    cell.totals[1] = 3;
    expect(sums.cell('m1')).toBe(cell);
    expect(collect(sums, 0)).toEqual(new Map([['{"model":"m1"}', 5]]));
    expect(collect(sums, 1)).toEqual(new Map([['{"model":"m1"}', 3]]));
  });
});
