import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeCursor, page } from './paging.ts';

// The cursor codec both ledgers (and the HTTP authority) share.

describe('ledger kit: paging', () => {
  it('a cursor a page issued decodes to the next offset; the pages cover the list once', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 30 }), fc.integer({ min: 1, max: 7 }), (items, limit) => {
        const seen: number[] = [];
        let offset = 0;
        for (;;) {
          const result = page(items, offset, limit);
          seen.push(...result.items);
          if (!result.hasMore) break;
          const next = decodeCursor(result.nextCursor);
          expect(next).toBe(offset + limit);
          offset = next;
        }
        expect(seen).toEqual(items);
      }),
    );
  });

  it('anything no page issued is a 400 naming cursor', () => {
    const issued = new Set<string>();
    for (let offset = 0; offset < 2000; offset++)
      issued.add(page(new Array(offset + 1), 0, offset).nextCursor!);
    // Issued-looking ones too: an offset and a two-character check that may not be its own.
    const nearMiss = fc
      .tuple(fc.integer({ min: 0, max: 1999 }), fc.string({ minLength: 2, maxLength: 2 }))
      .map(([offset, check]) => `${offset.toString(36)}-${check}`);
    fc.assert(
      fc.property(fc.oneof(fc.string({ minLength: 1, maxLength: 14 }), nearMiss), (cursor) => {
        fc.pre(!issued.has(cursor));
        expect(() => decodeCursor(cursor)).toThrow(
          expect.objectContaining({ code: 'INVALID_REQUEST', details: { field: 'cursor' } }),
        );
      }),
      { numRuns: 2000 },
    );
    expect(() => decodeCursor(5)).toThrow(expect.objectContaining({ details: { field: 'cursor' } }));
    expect(decodeCursor(undefined)).toBe(0);
    expect(decodeCursor('')).toBe(0);
  });
});
