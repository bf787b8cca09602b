import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Subject } from '../protocol/types.ts';
import { createMemoryLedger } from './memory-ledger.ts';

// Subject's levels accept `undefined` (for exactOptionalPropertyTypes users writing
// `{ tenant: tenantOf(request) }`): a level set to undefined must mean exactly what leaving it out
// means, the same scopes and the same idempotency payload, or a replay would be refused as a mismatch.

const LEVELS = ['workspace', 'app', 'workflow', 'agent', 'toolset'] as const;
const ACTION = { kind: 'llm.completion', name: 'model' };

/** Each lower level: a value, set to undefined, or left out; `dimensions` undefined or left out. */
const subjectArb = fc
  .record({
    levels: fc.tuple(...LEVELS.map(() => fc.constantFrom('value', 'undefined', 'absent'))),
    undefinedDimensions: fc.boolean(),
  })
  .map(({ levels, undefinedDimensions }) => {
    const withUndefined: Subject = { tenant: 'acme' };
    const cleaned: Subject = { tenant: 'acme' };
    LEVELS.forEach((level, index) => {
      if (levels[index] === 'value') {
        withUndefined[level] = `${level}-1`;
        cleaned[level] = `${level}-1`;
      } else if (levels[index] === 'undefined') withUndefined[level] = undefined;
    });
    if (undefinedDimensions) withUndefined.dimensions = undefined;
    return { withUndefined, cleaned };
  });

describe('a subject level set to undefined', () => {
  it('reserves the same scopes as the level left out, and replays as the same request', async () => {
    const ledger = createMemoryLedger({
      sweepIntervalMs: 0,
      ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS', allocated: 1_000_000 }],
    });
    let key = 0;
    await fc.assert(
      fc.asyncProperty(subjectArb, async ({ withUndefined, cleaned }) => {
        key += 1;
        const idempotencyKey = `k-${key}`;
        const estimate = { unit: 'TOKENS' as const, amount: 1 };
        const first = await ledger.reserve({
          idempotencyKey,
          subject: withUndefined,
          action: ACTION,
          estimate,
        });
        const replay = await ledger.reserve({ idempotencyKey, subject: cleaned, action: ACTION, estimate });
        expect(first.decision).toBe('ALLOW');
        expect(replay.reservationId).toBe(first.reservationId);
        expect(replay.affectedScopes).toEqual(first.affectedScopes);
        expect(first.affectedScopes.at(-1)).toBe(
          [
            'tenant:acme',
            ...LEVELS.filter((level) => cleaned[level]).map((level) => `${level}:${level}-1`),
          ].join('/'),
        );
      }),
      { numRuns: 100 },
    );
    await ledger.close?.();
  });
});
