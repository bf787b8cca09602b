import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { findTooDeep } from '../src/http/json-depth.ts';

// The one-pass depth scan agrees with the depth of the parsed value, whatever strings hold (brackets,
// quotes, escapes), and names the top-level key the first too-deep value sits under.

function depthOf(value: unknown): number {
  if (typeof value !== 'object' || value === null) return 0;
  const children = Array.isArray(value) ? value : Object.values(value);
  return 1 + Math.max(0, ...children.map(depthOf));
}

/** JSON values whose strings are rich in the characters a naive scan would miscount. */
const tricky = fc.string({
  unit: fc.constantFrom('[', ']', '{', '}', '"', '\\', ',', ':', 'a', '\u2028', '\ud800'),
});
const value = fc.letrec((tie) => ({
  node: fc.oneof({ depthSize: 'small', maxDepth: 12 }, tie('leaf'), tie('array'), tie('object')),
  leaf: fc.oneof(tricky, fc.integer(), fc.boolean(), fc.constant(null)),
  array: fc.array(tie('node'), { maxLength: 3 }),
  object: fc.dictionary(tricky, tie('node'), { maxKeys: 3 }),
})).node;

describe('findTooDeep', () => {
  it('finds a value deeper than the limit exactly when the parsed value is deeper', () => {
    fc.assert(
      fc.property(value, fc.integer({ min: 1, max: 14 }), (body, max) => {
        const found = findTooDeep(JSON.stringify(body), max);
        expect(found !== undefined).toBe(depthOf(body) > max);
      }),
      { numRuns: 2000 },
    );
  });

  it('names the first top-level key whose value is too deep, or body for a top-level array', () => {
    fc.assert(
      fc.property(
        fc.dictionary(tricky, value, { minKeys: 1, maxKeys: 4 }),
        fc.integer({ min: 1, max: 8 }),
        (body, max) => {
          const deep = Object.entries(body).find(([, child]) => 1 + depthOf(child) > max);
          const found = findTooDeep(JSON.stringify(body), max);
          const name = (key: string) => (key.length > 64 ? `${key.slice(0, 64)}…` : key);
          expect(found?.field).toBe(deep === undefined ? undefined : name(deep[0]));
        },
      ),
      { numRuns: 2000 },
    );
    expect(findTooDeep('[[[1]]]', 2)).toEqual({ field: 'body', depth: 3 });
  });

  it('scans 100,000 levels without recursion', () => {
    expect(findTooDeep('['.repeat(100_000) + ']'.repeat(100_000), 64)).toEqual({ field: 'body', depth: 65 });
    expect(findTooDeep(`{"metadata":${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}}`, 64)?.field).toBe(
      'metadata',
    );
  });
});
