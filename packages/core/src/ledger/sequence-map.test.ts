import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SequenceMap } from './sequence-map.ts';

describe('SequenceMap (model check against a Map)', () => {
  // Add a run of new items, then delete some held item (by age): old items outlive many newer ones, so
  // slots are reused while their first owner is still held (the displaced path), through growth and shrinking.
  type Step = { add: number; deleteAt: number | undefined };
  const step: fc.Arbitrary<Step> = fc.record({
    add: fc.integer({ min: 0, max: 700 }),
    deleteAt: fc.option(fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), { nil: undefined }),
  });

  it('holds exactly what was added and not deleted, oldest first', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const map = new SequenceMap<{ sequence: number }>();
        const model = new Map<number, { sequence: number }>();
        let next = 0;
        for (const s of steps) {
          for (let i = 0; i < s.add; i++) {
            const item = { sequence: next++ };
            map.add(item);
            model.set(item.sequence, item);
          }
          if (s.deleteAt !== undefined && model.size > 0) {
            const held = [...model.values()];
            // Mostly delete the oldest (FIFO retention), sometimes any one.
            const victim = held[Math.floor(s.deleteAt * s.deleteAt * held.length)]!;
            map.delete(victim);
            model.delete(victim.sequence);
            // Deleting in bulk lets the array shrink.
            if (s.add === 0)
              for (const item of held.slice(0, held.length >> 1)) {
                if (!model.has(item.sequence)) continue;
                map.delete(item);
                model.delete(item.sequence);
              }
          }
          expect(map.size).toBe(model.size);
        }
        for (let sequence = 0; sequence < next + 5; sequence++)
          expect(map.get(sequence)).toBe(model.get(sequence));
        expect(map.values()).toEqual([...model.values()]);
      }),
      { numRuns: 50 },
    );
  });

  it('finds a long-lived item after many newer ones reused its slot', () => {
    const map = new SequenceMap<{ sequence: number }>();
    const old = { sequence: 0 };
    map.add(old);
    for (let sequence = 1; sequence < 100_000; sequence++) {
      const item = { sequence };
      map.add(item);
      map.delete(item);
    }
    expect(map.get(0)).toBe(old);
    expect(map.get(99_999)).toBeUndefined();
    expect(map.values()).toEqual([old]);
  });
});
