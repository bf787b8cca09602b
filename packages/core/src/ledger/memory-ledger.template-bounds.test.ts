import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../clock.ts';
import { CyclesError } from '../protocol/errors.ts';
import type { ReserveRequest } from '../protocol/types.ts';
import { createMemoryLedger, type MemoryLedgerOptions } from './memory-ledger.ts';
import type { Ledger } from './types.ts';

// The memory ledger's ledger-wide template bounds under a flood of distinct subjects (the conformance
// suite covers the per-template and per-tenant bounds on every ledger).

const DAY = 86_400_000;
const open: Ledger[] = [];
afterEach(async () => {
  for (const ledger of open.splice(0)) await ledger.close?.();
});

function ledgerWith(clock: ManualClock, options: MemoryLedgerOptions = {}): Ledger {
  const ledger = createMemoryLedger({
    clock,
    sweepIntervalMs: 0,
    templates: [
      { pattern: 'tenant:*', unit: 'TOKENS', allocated: 1000, window: { period: 'day' } },
      { pattern: 'tenant:*/app:*', unit: 'TOKENS', allocated: 100, window: { period: 'day' } },
    ],
    ...options,
  });
  open.push(ledger);
  return ledger;
}

const reserve = (tenant: string, app?: string): ReserveRequest => ({
  idempotencyKey: `${tenant}-${app}-${Math.random()}`,
  subject: app === undefined ? { tenant } : { tenant, app },
  action: { kind: 'llm.completion', name: 'model' },
  estimate: { unit: 'TOKENS', amount: 10 },
});

/** Reserves once per subject; answers how many were held and the codes of the refusals. */
async function flood(ledger: Ledger, subjects: Array<[string, string?]>) {
  let held = 0;
  const refusals = new Map<string, number>();
  for (const [tenant, app] of subjects) {
    try {
      const hold = await ledger.reserve(reserve(tenant, app));
      await ledger.release(hold.reservationId!, { idempotencyKey: `release-${hold.reservationId}` });
      held++;
    } catch (error) {
      if (!CyclesError.isInstance(error)) throw error;
      const bound = String(error.details?.bound ?? error.code);
      refusals.set(bound, (refusals.get(bound) ?? 0) + 1);
    }
  }
  return { held, refusals: Object.fromEntries(refusals) };
}

describe('memory ledger: a flood of new subjects', () => {
  it('20,000 new tenants hold at most maxTemplateLedgers ledgers; the next window starts empty', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1, 12));
    const ledger = ledgerWith(clock, { maxTemplateLedgers: 1000 });
    const tenants = Array.from({ length: 20_000 }, (_, i): [string] => [`flood-${i}`]);
    expect(await flood(ledger, tenants)).toEqual({ held: 1000, refusals: { maxTemplateLedgers: 19_000 } });
    expect(await ledger.listLedgers()).toHaveLength(1000);
    expect((await ledger.templateLedgerCounts()).total).toBe(1000);

    clock.advance(DAY);
    await ledger.sweepExpired();
    expect(await ledger.listLedgers()).toHaveLength(0);
    expect(await ledger.templateLedgerCounts()).toEqual({
      total: 0,
      limit: 1000,
      perTenantLimit: 1000,
      byTenant: {},
    });
    expect((await flood(ledger, tenants.slice(0, 1500))).held).toBe(1000);
  });

  it('one tenant minting app names is refused at its own bound; other tenants are not', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1, 12));
    const ledger = ledgerWith(clock, { maxTemplateLedgersPerTenant: 50 });
    const apps = Array.from({ length: 5000 }, (_, i): [string, string] => ['noisy', `app-${i}`]);
    expect(await flood(ledger, apps)).toEqual({
      held: 49,
      refusals: { maxTemplateLedgersPerTenant: 4951 },
    });
    expect(await flood(ledger, [['quiet', 'chat']])).toEqual({ held: 1, refusals: {} });
    expect((await ledger.templateLedgerCounts()).byTenant).toEqual({ noisy: 50, quiet: 2 });
  });

  it('rejects a bad bound at construction, naming the option', () => {
    expect(() => createMemoryLedger({ maxTemplateLedgers: -1 })).toThrow(/maxTemplateLedgers/);
    expect(() => createMemoryLedger({ maxTemplateLedgersPerTenant: 1.5 })).toThrow(
      /maxTemplateLedgersPerTenant/,
    );
    expect(() =>
      createMemoryLedger({
        templates: [{ pattern: 'tenant:*', unit: 'TOKENS', allocated: 1, maxLedgers: -2 }],
      }),
    ).toThrow(/template\.maxLedgers/);
  });
});
