import { describe, expect, it } from 'vitest';
import { ACTION, reserveRequest, useMemoryLedgers } from '../../test/support/memory-ledgers.ts';
import { ManualClock } from '../clock.ts';
import { BudgetExceededError, CyclesError } from '../protocol/errors.ts';

const ledgerWith = useMemoryLedgers();

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return CyclesError.isInstance(error) ? error.code : String(error);
  }
}

describe('memory ledger', () => {
  it('commits the two-level example: charged 150, only the parent flagged', async () => {
    const ledger = ledgerWith({
      ledgers: [
        { scope: 'tenant:acme', unit: 'TOKENS', allocated: 150 },
        { scope: 'tenant:acme/app:chat', unit: 'TOKENS', allocated: 1000 },
      ],
    });
    const { reservationId } = await ledger.reserve(reserveRequest(100));
    const commit = await ledger.commit(reservationId!, {
      idempotencyKey: 'c',
      actual: { unit: 'TOKENS', amount: 200 },
    });
    expect(commit.charged.amount).toBe(150);
    const parent = await ledger.getLedger('tenant:acme', 'TOKENS');
    const child = await ledger.getLedger('tenant:acme/app:chat', 'TOKENS');
    expect([parent?.isOverLimit, child?.isOverLimit]).toEqual([true, false]);
    expect([parent?.spent, child?.spent]).toEqual([150, 150]);
  });

  describe('partial holds (extension)', () => {
    const ledgers = [
      { scope: 'tenant:acme', unit: 'TOKENS' as const, allocated: 300 },
      { scope: 'tenant:acme/app:chat', unit: 'TOKENS' as const, allocated: 200 },
    ];

    it('holds the smallest remaining when the minimum fits everywhere', async () => {
      const ledger = ledgerWith({ ledgers });
      const response = await ledger.reserve(reserveRequest(500, { minimum: 100 }));
      expect(response).toMatchObject({ reserved: { amount: 200 }, partial: true });
      expect((await ledger.getLedger('tenant:acme', 'TOKENS'))?.remaining).toBe(100);
      expect((await ledger.getLedger('tenant:acme/app:chat', 'TOKENS'))?.remaining).toBe(0);
    });

    it('is a normal 409 with no writes when the minimum does not fit', async () => {
      const ledger = ledgerWith({ ledgers });
      expect(await codeOf(ledger.reserve(reserveRequest(500, { minimum: 250 })))).toBe('BUDGET_EXCEEDED');
      expect((await ledger.getLedger('tenant:acme', 'TOKENS'))?.reserved).toBe(0);
    });

    it('holds the full estimate (not partial) when it fits', async () => {
      const ledger = ledgerWith({ ledgers });
      const response = await ledger.reserve(reserveRequest(50, { minimum: 10 }));
      expect(response.reserved?.amount).toBe(50);
      expect(response.partial).toBeUndefined();
    });
  });

  describe('budget windows (extension)', () => {
    it('resets spent at the local boundary, keeps holds, and reports retryAfterMs', async () => {
      const clock = new ManualClock(Date.UTC(2026, 6, 1, 21, 0)); // 23:00 in Paris
      const ledger = ledgerWith({
        clock,
        ledgers: [
          {
            scope: 'tenant:acme',
            unit: 'TOKENS',
            allocated: 100,
            window: { period: 'day', timeZone: 'Europe/Paris' },
          },
        ],
      });
      const first = await ledger.reserve(reserveRequest(60, { ttlMs: 86_400_000 }));
      await ledger.commit(first.reservationId!, {
        idempotencyKey: 'c1',
        actual: { unit: 'TOKENS', amount: 60 },
      });
      const held = await ledger.reserve(reserveRequest(30, { ttlMs: 86_400_000 }));
      const error = await ledger.reserve(reserveRequest(20)).catch((caught: unknown) => caught);
      expect(BudgetExceededError.isInstance(error)).toBe(true);
      expect((error as BudgetExceededError).retryAfterMs).toBe(3_600_000);

      clock.advance(3_600_000); // midnight in Paris
      const state = await ledger.getLedger('tenant:acme', 'TOKENS');
      expect(state).toMatchObject({ spent: 0, reserved: 30, remaining: 70 });
      expect(state?.periodStartMs).toBe(Date.UTC(2026, 6, 1, 22));
      expect(state?.periodEndMs).toBe(Date.UTC(2026, 6, 2, 22));
      await ledger.commit(held.reservationId!, {
        idempotencyKey: 'c2',
        actual: { unit: 'TOKENS', amount: 30 },
      });
      expect((await ledger.getLedger('tenant:acme', 'TOKENS'))?.spent).toBe(30);
    });

    it('rolls monthly windows on the first of the month', async () => {
      const clock = new ManualClock(Date.UTC(2026, 0, 31, 23, 59));
      const ledger = ledgerWith({
        clock,
        ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS', allocated: 10, window: { period: 'month' } }],
      });
      await ledger.createEvent({
        idempotencyKey: 'e1',
        subject: { tenant: 'acme' },
        action: ACTION,
        actual: { unit: 'TOKENS', amount: 10 },
      });
      expect((await ledger.getLedger('tenant:acme', 'TOKENS'))?.remaining).toBe(0);
      clock.advance(60_000);
      expect(await ledger.getLedger('tenant:acme', 'TOKENS')).toMatchObject({ remaining: 10, spent: 0 });
    });
  });

  describe('templates (extension)', () => {
    it('creates a ledger on first use, only in the template unit', async () => {
      const ledger = ledgerWith({ templates: [{ pattern: 'tenant:*', unit: 'TOKENS', allocated: 1000 }] });
      expect(await ledger.getLedger('tenant:acme', 'TOKENS')).toBeUndefined();
      const decision = await ledger.decide({
        idempotencyKey: 'd1',
        subject: { tenant: 'acme' },
        action: ACTION,
        estimate: { unit: 'TOKENS', amount: 10 },
      });
      expect(decision.decision).toBe('ALLOW');
      expect((await ledger.getLedger('tenant:acme', 'TOKENS'))?.allocated).toBe(1000);
      expect(
        await codeOf(ledger.reserve({ ...reserveRequest(1), estimate: { unit: 'CREDITS', amount: 1 } })),
      ).toBe('UNIT_MISMATCH');
    });
  });

  it('distinguishes UNIT_MISMATCH (with details) from NOT_FOUND', async () => {
    const ledger = ledgerWith({ ledgers: [{ scope: 'tenant:acme', unit: 'CREDITS', allocated: 10 }] });
    const error = (await ledger.reserve(reserveRequest(1)).catch((caught: unknown) => caught)) as CyclesError;
    expect(error.details).toEqual({
      scope: 'tenant:acme',
      requested_unit: 'TOKENS',
      expected_units: ['CREDITS'],
    });
    expect(await codeOf(ledger.reserve({ ...reserveRequest(1), subject: { tenant: 'other' } }))).toBe(
      'NOT_FOUND',
    );
  });

  it('NOT_FOUND names the scope and the fix', async () => {
    const ledger = ledgerWith({ ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS', allocated: 10 }] });
    const request = { ...reserveRequest(1), subject: { tenant: 'other', app: 'chat' } };
    const error = (await ledger.reserve(request).catch((caught: unknown) => caught)) as CyclesError;
    expect(error.details).toEqual({ scope: 'tenant:other/app:chat' });
    expect(error.message).toBe(
      'Budget not found for provided scope: tenant:other/app:chat; create a ledger at one of its scopes or a template matching it',
    );
  });

  it('caps from the leaf ledger give ALLOW_WITH_CAPS', async () => {
    const ledger = ledgerWith({
      ledgers: [{ scope: 'tenant:acme/app:chat', unit: 'TOKENS', allocated: 100, caps: { maxTokens: 50 } }],
    });
    const response = await ledger.reserve(reserveRequest(10));
    expect(response).toMatchObject({ decision: 'ALLOW_WITH_CAPS', caps: { maxTokens: 50 } });
  });

  it('a validation error leaves every counter and the idempotency key untouched', async () => {
    const ledger = ledgerWith({ ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS', allocated: 100 }] });
    const before = await ledger.listLedgers();
    const bad = reserveRequest(10, { ttlMs: 10 });
    expect(await codeOf(ledger.reserve(bad))).toBe('INVALID_REQUEST');
    expect(await ledger.listLedgers()).toEqual(before);
    // The same key is still free for a valid request.
    const good = await ledger.reserve({ ...bad, ttlMs: 1000 });
    expect(good.decision).toBe('ALLOW');
  });

  it('forgets settled reservations and idempotency records past retention', async () => {
    const clock = new ManualClock();
    const ledger = ledgerWith({
      clock,
      ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS', allocated: 1e9 }],
      idempotencyRetentionMs: 1000,
      reservationRetentionMs: 1000,
    });
    const { reservationId } = await ledger.reserve(reserveRequest(1));
    await ledger.commit(reservationId!, { idempotencyKey: 'c', actual: { unit: 'TOKENS', amount: 1 } });
    expect((await ledger.getReservation(reservationId!)).status).toBe('COMMITTED');
    clock.advance(70_000);
    await ledger.sweepExpired();
    expect(await codeOf(ledger.getReservation(reservationId!))).toBe('NOT_FOUND');
  });

  it('refuses a duplicate ledger with 409 and repays debt with REPAY_DEBT', async () => {
    const ledger = ledgerWith({
      ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS', allocated: 100, overdraftLimit: 50 }],
    });
    const duplicate = (await ledger
      .createLedger({ scope: 'tenant:ACME', unit: 'TOKENS', allocated: 1 })
      .catch((caught: unknown) => caught)) as CyclesError;
    expect([duplicate.code, duplicate.status]).toEqual(['INVALID_REQUEST', 409]);
    await ledger.createEvent({
      idempotencyKey: 'e',
      subject: { tenant: 'acme' },
      action: ACTION,
      actual: { unit: 'TOKENS', amount: 130 },
      overagePolicy: 'ALLOW_WITH_OVERDRAFT',
    });
    expect(await ledger.getLedger('tenant:acme', 'TOKENS')).toMatchObject({
      debt: 30,
      remaining: -30,
      spent: 100,
    });
    const result = await ledger.fund({
      scope: 'tenant:acme',
      unit: 'TOKENS',
      funding: { operation: 'REPAY_DEBT', amount: 50 },
    });
    expect(result.current).toMatchObject({ debt: 0, remaining: 20, allocated: 120, isOverLimit: false });
  });
});

describe('memory ledger reservation ids', () => {
  it('finds a reservation only by its exact id (found by its counter, never by a look-alike)', async () => {
    const ledgers = { ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS' as const, allocated: 1000 }] };
    const ledger = ledgerWith(ledgers);
    const other = ledgerWith(ledgers);
    const { reservationId } = await ledger.reserve(reserveRequest(10));
    const id = reservationId as string;
    const { reservationId: foreign } = await other.reserve(reserveRequest(10));
    const digits = id.slice(-8);
    const lookAlikes = [
      id.toUpperCase(),
      `${id.slice(0, -8)}0${digits}`, // an extra leading zero: same counter, not the same id
      `evt_${id.slice(4)}`, // another prefix
      `${(foreign as string).slice(0, -8)}${digits}`, // another ledger's prefix with these digits
      `${id}0`,
      id.slice(0, -1),
    ];
    for (const lookAlike of lookAlikes) {
      expect(await codeOf(ledger.getReservation(lookAlike))).toBe('NOT_FOUND');
    }
    expect((await ledger.getReservation(id)).reservationId).toBe(id);
    // A copy of the id (another string object with the same characters) is the same id.
    const copy = [...id].join('');
    expect(
      (await ledger.commit(copy, { idempotencyKey: 'c', actual: { unit: 'TOKENS', amount: 5 } })).status,
    ).toBe('COMMITTED');
    expect((await ledger.getReservation(id)).reservationId).toBe(id);
  });
});
