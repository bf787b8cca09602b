import { checkIdentity, expectCyclesError } from '@cycles-guard/core/testing';
import { describe, expect, it } from 'vitest';
import { useRedis } from './support/server.ts';

// Lua numbers are doubles: amounts stay exact only because every counter is written with %.0f and
// carried as a decimal string. These tests sit at the edge of the documented bound, 2^53 − 1.

const redis = useRedis();
const MAX = Number.MAX_SAFE_INTEGER;
const ACTION = { kind: 'llm.completion', name: 'exact' };

describe('exact integer amounts up to 2^53 − 1', () => {
  it('reserve and commit at the bound keep every counter exact', async () => {
    const ledger = redis.ledger();
    await ledger.createLedger({ scope: 'tenant:big', unit: 'USD_MICROCENTS', allocated: MAX });
    await ledger.createLedger({ scope: 'tenant:big/app:a', unit: 'USD_MICROCENTS', allocated: MAX - 1 });
    const reserved = await ledger.reserve({
      idempotencyKey: 'big-reserve',
      subject: { tenant: 'big', app: 'a' },
      action: ACTION,
      estimate: { unit: 'USD_MICROCENTS', amount: MAX - 2 },
    });
    expect(reserved.reserved?.amount).toBe(MAX - 2);
    const tenantDuring = await ledger.getLedger('tenant:big', 'USD_MICROCENTS');
    expect(tenantDuring).toMatchObject({ reserved: MAX - 2, remaining: 2 });

    const committed = await ledger.commit(reserved.reservationId!, {
      idempotencyKey: 'big-commit',
      actual: { unit: 'USD_MICROCENTS', amount: MAX - 7 },
    });
    expect(committed.charged.amount).toBe(MAX - 7);
    expect(committed.released?.amount).toBe(5);
    expect(await ledger.getLedger('tenant:big', 'USD_MICROCENTS')).toMatchObject({
      allocated: MAX,
      spent: MAX - 7,
      reserved: 0,
      remaining: 7,
    });
    expect(await ledger.getLedger('tenant:big/app:a', 'USD_MICROCENTS')).toMatchObject({
      spent: MAX - 7,
      remaining: 6,
    });
    await checkIdentity(ledger);
  });

  it('odd amounts just below the bound survive a round trip through every operation', async () => {
    const ledger = redis.ledger();
    const allocated = MAX - 12_345;
    await ledger.createLedger({ scope: 'tenant:odd', unit: 'TOKENS', allocated });
    const event = await ledger.createEvent({
      idempotencyKey: 'odd-event',
      subject: { tenant: 'odd' },
      action: ACTION,
      actual: { unit: 'TOKENS', amount: 4_503_599_627_370_497 },
    });
    expect(event.status).toBe('APPLIED');
    const funded = await ledger.fund({
      scope: 'tenant:odd',
      unit: 'TOKENS',
      funding: { operation: 'CREDIT', amount: 12_344 },
    });
    expect(funded.current).toMatchObject({
      allocated: MAX - 1,
      spent: 4_503_599_627_370_497,
      remaining: MAX - 1 - 4_503_599_627_370_497,
    });
    const balances = await ledger.getBalances({ tenant: 'odd' });
    expect(balances.balances.map((balance) => balance.allocated?.amount)).toEqual([MAX - 1]);
  });

  it('refuses (400, nothing written) an operation that would leave the exact range', async () => {
    const ledger = redis.ledger();
    await ledger.createLedger({ scope: 'tenant:edge', unit: 'TOKENS', allocated: MAX - 10 });
    const before = await ledger.getLedger('tenant:edge', 'TOKENS');
    const error = await expectCyclesError(
      ledger.fund({ scope: 'tenant:edge', unit: 'TOKENS', funding: { operation: 'CREDIT', amount: 11 } }),
      'INVALID_REQUEST',
    );
    expect(error.message).toMatch(/2\^53/);
    expect(await ledger.getLedger('tenant:edge', 'TOKENS')).toEqual(before);
    const filled = await ledger.fund({
      scope: 'tenant:edge',
      unit: 'TOKENS',
      funding: { operation: 'CREDIT', amount: 10 },
    });
    expect(filled.current.allocated).toBe(MAX);
  });
});
