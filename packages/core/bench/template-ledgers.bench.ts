import type { Benchmark } from '../../../scripts/bench.ts';
import { ManualClock } from '../src/clock.ts';
import { createMemoryLedger, type MemoryLedgerOptions } from '../src/ledger/memory-ledger.ts';
import type { Ledger } from '../src/ledger/types.ts';
import { CyclesError } from '../src/protocol/errors.ts';

// What a flood of new subjects costs the memory ledger (issue 22): each guarded call comes from a new
// tenant id, as when the tenant is read from a request header. Measured with the heap after a full GC
// (pnpm bench runs node --expose-gc), not with timing: bytes per live template ledger, the heap after
// 200,000 distinct subjects with the default bounds, and what 100,000 more (all refused) add.

const TEMPLATES: MemoryLedgerOptions['templates'] = [
  { pattern: 'tenant:*', unit: 'USD_MICROCENTS', allocated: 1_000_000, window: { period: 'day' } },
];
const ACTION = { kind: 'llm.completion', name: 'bench' };

function heapUsed(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc (pnpm bench does)');
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** One guarded call (reserve, then commit) per new tenant; answers how many were refused. */
async function flood(ledger: Ledger, from: number, count: number): Promise<number> {
  let refused = 0;
  for (let i = from; i < from + count; i++) {
    try {
      const hold = await ledger.reserve({
        idempotencyKey: `r${i}`,
        subject: { tenant: `tenant-${i}` },
        action: ACTION,
        estimate: { unit: 'USD_MICROCENTS', amount: 1000 },
      });
      await ledger.commit(hold.reservationId!, {
        idempotencyKey: `c${i}`,
        actual: { unit: 'USD_MICROCENTS', amount: 700 },
      });
    } catch (error) {
      if (!(CyclesError.isInstance(error) && error.code === 'INVALID_REQUEST')) throw error;
      refused++;
    }
  }
  return refused;
}

// Each new tenant's finished reservation and reserve key are kept for their replay windows (1 h and
// 24 h by default, per tenant): `bytes_per_new_tenant` counts them, `bytes_per_live_ledger` is measured
// once they are gone (the clock moved past both windows and swept), leaving the template ledger itself.
const RETENTION: MemoryLedgerOptions = {
  sweepIntervalMs: 0,
};
const DAY_MS = 86_400_000;

const perLedger: Benchmark = {
  metrics: {
    'ledger.templates.bytes_per_new_tenant': { target: 4000, better: 'lower', unit: 'bytes' },
    'ledger.templates.bytes_per_live_ledger': { target: 1000, better: 'lower', unit: 'bytes' },
  },
  async run() {
    // Weekly windows, so the ledgers stay live when the clock passes the replay windows.
    const weekly = TEMPLATES.map((template) => ({ ...template, window: { period: 'week' as const } }));
    const clock = new ManualClock(Date.UTC(2026, 0, 5));
    const ledger = createMemoryLedger({
      ...RETENTION,
      clock,
      templates: weekly,
      maxTemplateLedgers: 1_000_000,
    });
    await flood(ledger, 0, 20_000); // fills the subject cache (10,000 entries) and warms up
    clock.advance(DAY_MS + 60_000);
    await ledger.sweepExpired();
    const before = heapUsed();
    const count = 100_000;
    await flood(ledger, 20_000, count);
    const withReplays = heapUsed();
    clock.advance(DAY_MS + 60_000); // past every replay window: only the template ledgers remain
    await ledger.sweepExpired();
    const after = heapUsed();
    await ledger.close?.();
    return {
      'ledger.templates.bytes_per_new_tenant': (withReplays - before) / count,
      'ledger.templates.bytes_per_live_ledger': (after - before) / count,
    };
  },
};

const defaults: Benchmark = {
  metrics: {
    // 50,000 tenants admitted by the default bound, each with its replay records (bytes_per_new_tenant).
    'ledger.templates.heap_mb_after_200k_subjects': { target: 200, better: 'lower', unit: 'MB' },
    'ledger.templates.heap_growth_mb_per_100k_refused': { target: 1, better: 'lower', unit: 'MB' },
  },
  async run() {
    const start = heapUsed();
    const ledger = createMemoryLedger({ ...RETENTION, templates: TEMPLATES });
    const refused = await flood(ledger, 0, 200_000);
    const after200k = heapUsed();
    const refusedMore = await flood(ledger, 200_000, 100_000);
    const after300k = heapUsed();
    console.error(
      `default bounds: ${refused} of 200,000 new tenants refused, then ${refusedMore} of 100,000 more ` +
        '(what those add is per-tenant state outside the template ledgers: idempotency spaces)',
    );
    await ledger.close?.();
    return {
      'ledger.templates.heap_mb_after_200k_subjects': (after200k - start) / 1024 / 1024,
      'ledger.templates.heap_growth_mb_per_100k_refused': (after300k - after200k) / 1024 / 1024,
    };
  },
};

export const benchmarks: Benchmark[] = [perLedger, defaults];
