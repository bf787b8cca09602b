import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from './errors.ts';
import type { ReserveRequest } from './types.ts';
import {
  validateBalancesQuery,
  validateCommit,
  validateExtend,
  validateListQuery,
  validateReserve,
} from './validate.ts';

const VALID: ReserveRequest = {
  idempotencyKey: 'k1',
  subject: { tenant: 'acme' },
  action: { kind: 'llm.completion', name: 'gpt' },
  estimate: { unit: 'TOKENS', amount: 10 },
};

function fieldOf(run: () => void): unknown {
  try {
    run();
  } catch (error) {
    expect(InvalidRequestError.isInstance(error)).toBe(true);
    return (error as InvalidRequestError).details?.field;
  }
  return undefined;
}

describe('request validation', () => {
  it('accepts a valid reserve', () => {
    expect(fieldOf(() => validateReserve(VALID))).toBeUndefined();
  });

  it.each([
    [{ subject: {} }, 'subject'],
    [{ subject: { dimensions: { a: 'b' } } }, 'subject'],
    [{ subject: { tenant: 'a b' } }, 'subject.tenant'],
    [{ subject: { tenant: 'x'.repeat(129) } }, 'subject.tenant'],
    [{ action: { kind: 'k'.repeat(65), name: 'n' } }, 'action.kind'],
    [{ action: { kind: 'k', name: 'n', tags: Array(11).fill('t') } }, 'action.tags'],
    [{ estimate: { unit: 'EUR', amount: 1 } }, 'estimate.unit'],
    [{ estimate: { unit: 'TOKENS', amount: -1 } }, 'estimate.amount'],
    [{ estimate: { unit: 'TOKENS', amount: 1.5 } }, 'estimate.amount'],
    [{ ttlMs: 999 }, 'ttlMs'],
    [{ ttlMs: 86_400_001 }, 'ttlMs'],
    [{ gracePeriodMs: 60_001 }, 'gracePeriodMs'],
    [{ idempotencyKey: '' }, 'idempotencyKey'],
    [{ idempotencyKey: 'k'.repeat(257) }, 'idempotencyKey'],
    [{ overagePolicy: 'MAYBE' }, 'overagePolicy'],
    [{ minimum: 11 }, 'minimum'],
  ])('rejects %j naming %s', (patch, field) => {
    expect(fieldOf(() => validateReserve({ ...VALID, ...patch } as ReserveRequest))).toBe(field);
  });

  it('rejects too many dimensions', () => {
    const dimensions = Object.fromEntries(Array.from({ length: 17 }, (_, index) => [`d${index}`, 'v']));
    expect(fieldOf(() => validateReserve({ ...VALID, subject: { tenant: 'a', dimensions } }))).toBe(
      'subject.dimensions',
    );
  });

  it('checks commit, extend, balances and list queries', () => {
    expect(
      fieldOf(() => validateCommit({ idempotencyKey: 'k', actual: { unit: 'TOKENS', amount: -5 } })),
    ).toBe('actual.amount');
    expect(fieldOf(() => validateExtend({ idempotencyKey: 'k', extendByMs: 0 }))).toBe('extendByMs');
    expect(fieldOf(() => validateBalancesQuery({}))).toBe('query');
    expect(fieldOf(() => validateBalancesQuery({ tenant: 'a', limit: 201 }))).toBe('limit');
    expect(fieldOf(() => validateListQuery({ fromMs: 10, toMs: 5 }))).toBe('fromMs');
    expect(fieldOf(() => validateListQuery({ limit: 0 }))).toBe('limit');
  });

  it('names the field and the fix in the message', () => {
    try {
      validateReserve({ ...VALID, ttlMs: 5 });
    } catch (error) {
      expect((error as Error).message).toMatch(/^ttlMs must be an integer in 1000–86400000/);
    }
  });
});
