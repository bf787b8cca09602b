import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Keyed, keyHash, RecordTable } from './record-table.ts';

interface Entry extends Keyed {
  value: number;
}

const spaces = [{ id: 0 }, { id: 1 }];

function entry(space: number, key: string, value: number, hash?: number): Entry {
  const owner = spaces[space]!;
  return { space: owner, key, hash: hash ?? keyHash(owner.id, key), value };
}

describe('keyHash', () => {
  it('is never 0 (the empty-slot marker) and tells spaces apart', () => {
    fc.assert(
      fc.property(fc.nat(), fc.string(), (space, key) => {
        expect(keyHash(space, key)).toBeLessThan(0);
      }),
    );
    expect(keyHash(0, 'k')).not.toBe(keyHash(1, 'k'));
  });
});

describe('RecordTable (model check against a Map)', () => {
  type Step = { op: 'insert' | 'remove'; space: number; key: number };
  const step: fc.Arbitrary<Step> = fc.record({
    op: fc.constantFrom('insert' as const, 'insert' as const, 'remove' as const),
    space: fc.integer({ min: 0, max: 1 }),
    key: fc.nat(3000),
  });

  function check(steps: Step[], collide: boolean): void {
    const table = new RecordTable<Entry>();
    const model = new Map<string, Entry>();
    for (const s of steps) {
      const id = `${s.space}|${s.key}`;
      const present = model.get(id);
      if (s.op === 'insert' && present === undefined) {
        // Forced collisions (a few hash values) make long probe runs that wrap around the table end.
        const record = entry(s.space, `k${s.key}`, s.key, collide ? -1 - (s.key % 3) : undefined);
        table.insert(record);
        model.set(id, record);
      } else if (s.op === 'remove' && present !== undefined) {
        table.remove(present);
        model.delete(id);
      }
    }
    for (let key = 0; key <= 3000; key += 7) {
      for (const space of [0, 1]) {
        const expected = model.get(`${space}|${key}`);
        const probe = expected ?? entry(space, `k${key}`, key);
        expect(table.find(spaces[space]!, `k${key}`, probe.hash)).toBe(expected);
      }
    }
    for (const record of model.values())
      expect(table.find(record.space, record.key, record.hash)).toBe(record);
  }

  it('finds exactly what was inserted and not removed, through growth and shrinking', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 0, maxLength: 4000 }), (steps) => check(steps, false)),
      { numRuns: 40 },
    );
  });

  it('keeps every record reachable when hashes collide (backward-shift removal)', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 0, maxLength: 600 }), (steps) => check(steps, true)),
      { numRuns: 60 },
    );
  });

  it('shrinks back after a mass removal and still answers', () => {
    const table = new RecordTable<Entry>();
    const records = Array.from({ length: 20_000 }, (_, i) => entry(0, `r${i}`, i));
    for (const record of records) table.insert(record);
    for (const record of records.slice(0, 19_990)) table.remove(record);
    for (const record of records.slice(19_990))
      expect(table.find(record.space, record.key, record.hash)).toBe(record);
    expect(table.find(spaces[0]!, 'r5', keyHash(0, 'r5'))).toBeUndefined();
  });
});
