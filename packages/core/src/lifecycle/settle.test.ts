import { describe, expect, it } from 'vitest';
import { ManualClock } from '../clock.ts';
import { createCycles } from '../cycles.ts';
import type { CyclesEvent } from '../events.ts';
import { createMemoryLedger } from '../ledger/memory-ledger.ts';

// A commit that finds its reservation gone (expired and aged out of retention) records the charge.

const SCOPE = 'tenant:acme';
const UNIT = 'USD_MICROCENTS';

function setup() {
  const clock = new ManualClock();
  const ledger = createMemoryLedger({
    clock,
    sweepIntervalMs: 0,
    reservationRetentionMs: 0,
    ledgers: [{ scope: SCOPE, unit: UNIT, allocated: 10_000 }],
  });
  const events: CyclesEvent[] = [];
  const cycles = createCycles({
    authority: ledger,
    clock,
    subject: { tenant: 'acme' },
    heartbeat: false,
    ttlMs: 1_000,
    gracePeriodMs: 0,
    retry: { attempts: 2, baseDelayMs: 0 },
    onEvent: (event) => {
      events.push(event);
    },
  });
  return { clock, ledger, cycles, events };
}

describe('commit of a hold that is gone', () => {
  it('posts the charge as an event with the same key when the reservation aged out (NOT_FOUND)', async () => {
    const { clock, ledger, cycles, events } = setup();
    const hold = await cycles.reserve({ estimate: 3_000 });
    clock.advance(10_000);
    await ledger.sweepExpired();
    await expect(ledger.getReservation(hold.reservationId)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await hold.commit(2_500)).toMatchObject({ status: 'committed', charged: 2_500, viaEvent: true });
    expect(await ledger.getLedger(SCOPE, UNIT)).toMatchObject({
      spent: 2_500,
      reserved: 0,
      remaining: 7_500,
    });
    expect(events.at(-1)).toMatchObject({ type: 'commit', viaEvent: true, charged: 2_500 });
  });

  it('posts the charge as an event when the reservation expired but is still retained', async () => {
    const { clock, ledger, cycles } = setup();
    const hold = await cycles.reserve({ estimate: 3_000 });
    clock.advance(1_001);
    expect(await hold.commit(1_000)).toMatchObject({ status: 'committed', charged: 1_000, viaEvent: true });
    expect(await ledger.getLedger(SCOPE, UNIT)).toMatchObject({ spent: 1_000, reserved: 0 });
  });
});
