import { createMemoryLedger, type MemoryLedgerOptions } from '@cycles-guard/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRedisLedger, type RedisLedgerOptions } from '../src/index.ts';

// Options are checked with the ledger kit before anything connects (the URL below has no server): the
// options both ledgers have are refused exactly as the memory ledger refuses them.

const NOWHERE = 'redis://127.0.0.1:1';
const SHARED = [
  'sweepIntervalMs',
  'idempotencyRetentionMs',
  'reservationRetentionMs',
  'maxReservationsPerTenant',
  'reservationReplayWindowMs',
  'maxTemplateLedgers',
  'maxTemplateLedgersPerTenant',
] as const;
const bad = fc.oneof(
  fc.integer({ max: -1 }),
  fc.double({ noInteger: true }),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53),
);

function refusal(create: () => unknown): unknown {
  try {
    create();
  } catch (error) {
    return error;
  }
  throw new Error('expected the options to be refused');
}

describe('Redis ledger options', () => {
  it('refuses a bad shared option with the memory ledger’s error, before connecting', () => {
    fc.assert(
      fc.property(fc.constantFrom(...SHARED), bad, (name, value) => {
        const fromRedis = refusal(() => createRedisLedger({ url: NOWHERE, [name]: value }));
        const fromMemory = refusal(() => createMemoryLedger({ [name]: value } as MemoryLedgerOptions));
        expect(fromRedis).toEqual(fromMemory);
        expect(fromRedis).toMatchObject({ code: 'INVALID_REQUEST', details: { field: name } });
      }),
    );
  });

  it('refuses 0 reservations per tenant as the memory ledger does', () => {
    const options = { maxReservationsPerTenant: 0 };
    expect(refusal(() => createRedisLedger({ url: NOWHERE, ...options }))).toEqual(
      refusal(() => createMemoryLedger(options)),
    );
  });

  it('refuses its own numeric options naming them: operationTimeoutMs (≥ 1), templateLedgerRetentionMs', () => {
    const cases: [keyof RedisLedgerOptions, number][] = [
      ['operationTimeoutMs', 0],
      ['operationTimeoutMs', 1.5],
      ['templateLedgerRetentionMs', -1],
      ['templateLedgerRetentionMs', Number.NaN],
    ];
    for (const [name, value] of cases) {
      expect(refusal(() => createRedisLedger({ url: NOWHERE, [name]: value }))).toMatchObject({
        code: 'INVALID_REQUEST',
        details: { field: name },
        message: expect.stringContaining(`fix the ${name} option`),
      });
    }
  });
});
