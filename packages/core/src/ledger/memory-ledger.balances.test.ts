import { afterEach, describe, expect, it } from 'vitest';
import type { Balance } from '../protocol/types.ts';
import { createMemoryLedger, type MemoryLedgerOptions } from './memory-ledger.ts';
import type { Ledger } from './types.ts';

// Balance snapshots on responses. The spec makes `balances` optional on every runtime response (extend:
// "nice-to-have"; dry_run: "MAY be populated (recommended)"); Ref sends a post-write snapshot. This
// ledger always snapshots dry_run and, with `includeBalances`, every live response; replays repeat the
// original snapshot verbatim.

const ACTION = { kind: 'llm.completion', name: 'model' };
const SUBJECT = { tenant: 'acme', app: 'chat' };
const open: Ledger[] = [];
afterEach(async () => {
  for (const ledger of open.splice(0)) await ledger.close?.();
});

function ledgerWith(options: MemoryLedgerOptions = {}): Ledger {
  const ledger = createMemoryLedger({
    sweepIntervalMs: 0,
    ledgers: [
      { scope: 'tenant:acme', unit: 'TOKENS', allocated: 1000 },
      { scope: 'tenant:acme/app:chat', unit: 'TOKENS', allocated: 500 },
    ],
    ...options,
  });
  open.push(ledger);
  return ledger;
}

/** scope path → [remaining, reserved, spent] of a snapshot. */
function summary(balances: Balance[] | undefined) {
  return Object.fromEntries(
    (balances ?? []).map((b) => [b.scopePath, [b.remaining.amount, b.reserved?.amount, b.spent?.amount]]),
  );
}

const reserveRequest = (key: string, amount: number, dryRun = false) => ({
  idempotencyKey: key,
  subject: SUBJECT,
  action: ACTION,
  estimate: { unit: 'TOKENS' as const, amount },
  ...(dryRun ? { dryRun } : {}),
});

describe('memory ledger balance snapshots', () => {
  it('by default live responses carry none and dry_run carries the current, unchanged state', async () => {
    const ledger = ledgerWith();
    const held = await ledger.reserve(reserveRequest('r', 100));
    expect(held.balances).toBeUndefined();
    const extended = await ledger.extend(held.reservationId!, { idempotencyKey: 'x', extendByMs: 1000 });
    expect(extended.balances).toBeUndefined();
    const committed = await ledger.commit(held.reservationId!, {
      idempotencyKey: 'c',
      actual: { unit: 'TOKENS', amount: 60 },
    });
    expect(committed.balances).toBeUndefined();
    const applied = await ledger.createEvent({
      idempotencyKey: 'e',
      subject: SUBJECT,
      action: ACTION,
      actual: { unit: 'TOKENS', amount: 5 },
    });
    expect(applied.balances).toBeUndefined();
    const dry = await ledger.reserve(reserveRequest('d', 10, true));
    expect(summary(dry.balances)).toEqual({
      'tenant:acme': [935, 0, 65],
      'tenant:acme/app:chat': [435, 0, 65],
    });
  });

  it('with includeBalances every live response carries the post-write state of each budgeted scope', async () => {
    const ledger = ledgerWith({ includeBalances: true });
    const held = await ledger.reserve(reserveRequest('r', 100));
    expect(summary(held.balances)).toEqual({
      'tenant:acme': [900, 100, 0],
      'tenant:acme/app:chat': [400, 100, 0],
    });
    const extended = await ledger.extend(held.reservationId!, { idempotencyKey: 'x', extendByMs: 1000 });
    expect(summary(extended.balances)).toEqual(summary(held.balances));
    const committed = await ledger.commit(held.reservationId!, {
      idempotencyKey: 'c',
      actual: { unit: 'TOKENS', amount: 60 },
    });
    expect(summary(committed.balances)).toEqual({
      'tenant:acme': [940, 0, 60],
      'tenant:acme/app:chat': [440, 0, 60],
    });
    const other = await ledger.reserve(reserveRequest('r2', 40));
    const released = await ledger.release(other.reservationId!, { idempotencyKey: 'rel' });
    expect(summary(released.balances)).toEqual(summary(committed.balances));
    const applied = await ledger.createEvent({
      idempotencyKey: 'e',
      subject: SUBJECT,
      action: ACTION,
      actual: { unit: 'TOKENS', amount: 5 },
    });
    expect(summary(applied.balances)).toEqual({
      'tenant:acme': [935, 0, 65],
      'tenant:acme/app:chat': [435, 0, 65],
    });
  });

  it('replays repeat the original snapshot, not the current state', async () => {
    const ledger = ledgerWith({ includeBalances: true });
    const held = await ledger.reserve(reserveRequest('r', 100));
    const commitRequest = { idempotencyKey: 'c', actual: { unit: 'TOKENS' as const, amount: 60 } };
    const committed = await ledger.commit(held.reservationId!, commitRequest);
    await ledger.reserve(reserveRequest('later', 300));
    const { remainingTtlMs: _ttl, ...heldStable } = held;
    const { remainingTtlMs: _replayTtl, ...replayStable } = await ledger.reserve(reserveRequest('r', 100));
    expect(replayStable).toEqual(heldStable);
    expect(await ledger.commit(held.reservationId!, commitRequest)).toEqual(committed);
  });
});
