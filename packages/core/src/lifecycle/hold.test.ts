import { describe, expect, it } from 'vitest';
import { ManualClock } from '../clock.ts';
import { createCycles } from '../cycles.ts';
import type { CyclesEvent } from '../events.ts';
import { createMemoryLedger } from '../ledger/memory-ledger.ts';
import type { Ledger } from '../ledger/types.ts';
import { AuthorityUnavailableError, BudgetExceededError } from '../protocol/errors.ts';
import { flakyAuthority } from './__fixtures__/flaky-authority.ts';

const SCOPE = 'tenant:acme';
const UNIT = 'USD_MICROCENTS';

function setup(allocated = 1000, faults: Parameters<typeof flakyAuthority>[1] = {}) {
  const clock = new ManualClock();
  const ledger = createMemoryLedger({
    clock,
    sweepIntervalMs: 0,
    ledgers: [{ scope: SCOPE, unit: UNIT, allocated }],
  });
  const authority = flakyAuthority(ledger, faults);
  const events: CyclesEvent[] = [];
  const cycles = createCycles({
    authority,
    clock,
    subject: { tenant: 'acme' },
    heartbeat: false,
    retry: { attempts: 4, baseDelayMs: 0 },
    onEvent: (event) => {
      events.push(event);
    },
  });
  return { clock, ledger, authority, cycles, events };
}

async function state(ledger: Ledger) {
  const row = await ledger.getLedger(SCOPE, UNIT);
  if (row === undefined) throw new Error('no ledger');
  return row;
}

describe('hold', () => {
  it('commits the actual cost and returns the rest', async () => {
    const { cycles, ledger, events } = setup();
    const hold = await cycles.reserve({ estimate: 300 });
    expect(hold.reserved).toBe(300);
    expect((await state(ledger)).reserved).toBe(300);
    const outcome = await hold.commit(120);
    expect(outcome).toMatchObject({ status: 'committed', charged: 120, released: 180, viaEvent: false });
    expect(await state(ledger)).toMatchObject({ spent: 120, reserved: 0, remaining: 880 });
    expect(events.map((event) => event.type)).toEqual(['decision', 'commit']);
  });

  it('releases the whole hold', async () => {
    const { cycles, ledger } = setup();
    const hold = await cycles.reserve({ estimate: 300 });
    expect(await hold.release('not needed')).toMatchObject({ status: 'released', released: 300 });
    expect(await state(ledger)).toMatchObject({ spent: 0, reserved: 0, remaining: 1000 });
  });

  it('settles exactly once under concurrent and repeated calls', async () => {
    const { cycles, ledger } = setup();
    const hold = await cycles.reserve({ estimate: 300 });
    const outcomes = await Promise.all([
      hold.commit(100),
      hold.release(),
      hold.commit(250),
      hold.commit(100),
    ]);
    for (const outcome of outcomes) expect(outcome).toEqual(outcomes[0]);
    expect(outcomes[0]).toMatchObject({ status: 'committed', charged: 100 });
    expect(hold.settled).toBe(true);
    expect(await hold.release()).toEqual(outcomes[0]);
    expect(await state(ledger)).toMatchObject({ spent: 100, reserved: 0 });
  });

  it('retries a lost commit with the same key and is charged once', async () => {
    const { cycles, ledger, authority } = setup(1000, { commit: { times: 2, when: 'after' } });
    const hold = await cycles.reserve({ estimate: 300 });
    expect(await hold.commit(200)).toMatchObject({ status: 'committed', charged: 200 });
    const keys = authority.calls.filter((call) => call.operation === 'commit').map((call) => call.key);
    expect(keys).toHaveLength(3);
    expect(new Set(keys).size).toBe(1);
    expect(await state(ledger)).toMatchObject({ spent: 200, reserved: 0, remaining: 800 });
  });

  it('retries a release that never arrived', async () => {
    const { cycles, ledger } = setup(1000, { release: { times: 3, when: 'before' } });
    const hold = await cycles.reserve({ estimate: 300 });
    expect(await hold.release()).toMatchObject({ status: 'released', released: 300 });
    expect(await state(ledger)).toMatchObject({ reserved: 0, remaining: 1000 });
  });

  it('reports a settle-error once every retry failed', async () => {
    const { cycles, events } = setup(1000, { commit: { times: 10, when: 'before' } });
    const hold = await cycles.reserve({ estimate: 300 });
    await expect(hold.commit(100)).rejects.toBeInstanceOf(AuthorityUnavailableError);
    expect(events.at(-1)).toMatchObject({ type: 'settle-error', operation: 'commit', actual: 100 });
  });

  it('posts a commit on an expired hold as an event with the same key', async () => {
    const { cycles, ledger, clock, authority, events } = setup();
    const hold = await cycles.reserve({ estimate: 300, ttlMs: 1000, gracePeriodMs: 0 });
    clock.advance(5000);
    const outcome = await hold.commit(250);
    expect(outcome).toMatchObject({ status: 'committed', charged: 250, viaEvent: true });
    const commitKey = authority.calls.find((call) => call.operation === 'commit')?.key;
    expect(authority.calls.find((call) => call.operation === 'createEvent')?.key).toBe(commitKey);
    expect(await state(ledger)).toMatchObject({ spent: 250, reserved: 0, remaining: 750 });
    expect(events.at(-1)).toMatchObject({ type: 'commit', viaEvent: true, charged: 250 });
  });

  it('treats a release of an expired hold as released', async () => {
    const { cycles, ledger, clock } = setup();
    const hold = await cycles.reserve({ estimate: 300, ttlMs: 1000, gracePeriodMs: 0 });
    clock.advance(5000);
    expect(await hold.release()).toMatchObject({ status: 'released', expired: true });
    expect(await state(ledger)).toMatchObject({ spent: 0, reserved: 0, remaining: 1000 });
  });

  it('holds part of the estimate when a minimum is given', async () => {
    const { cycles } = setup(1000);
    await (await cycles.reserve({ estimate: 700 })).commit(700);
    const hold = await cycles.reserve({ estimate: 500, minimum: 100 });
    expect(hold).toMatchObject({ reserved: 300, partial: true, estimate: 500 });
  });

  it('refuses a reserve over budget and emits a denial', async () => {
    const { cycles, events } = setup(100);
    await expect(cycles.reserve({ estimate: 500 })).rejects.toBeInstanceOf(BudgetExceededError);
    expect(events).toMatchObject([{ type: 'denial', code: 'BUDGET_EXCEEDED', estimate: 500 }]);
  });

  it('charges the held amount when REJECT refuses an overrun', async () => {
    const { cycles, ledger } = setup();
    const hold = await cycles.reserve({ estimate: 300, overagePolicy: 'REJECT' });
    expect(await hold.commit(400)).toMatchObject({ status: 'committed', actual: 400, charged: 300 });
    expect(await state(ledger)).toMatchObject({ spent: 300, reserved: 0 });
  });
});

describe('fail mode', () => {
  it('fails closed by default', async () => {
    const { cycles, events } = setup(1000, { reserve: { times: 10, when: 'before' } });
    await expect(cycles.reserve({ estimate: 10 })).rejects.toBeInstanceOf(AuthorityUnavailableError);
    expect(events).toEqual([]);
  });

  it('retries a reserve with the same key and holds once', async () => {
    const { cycles, ledger, authority } = setup(1000, { reserve: { times: 2, when: 'after' } });
    const hold = await cycles.reserve({ estimate: 100 });
    expect(hold.guarded).toBe(true);
    expect(new Set(authority.calls.map((call) => call.key)).size).toBe(1);
    expect((await state(ledger)).reserved).toBe(100);
  });

  it('runs unguarded and emits fail-open when opted in', async () => {
    const clock = new ManualClock();
    const ledger = createMemoryLedger({
      clock,
      sweepIntervalMs: 0,
      ledgers: [{ scope: SCOPE, unit: UNIT, allocated: 10 }],
    });
    const events: CyclesEvent[] = [];
    const cycles = createCycles({
      authority: flakyAuthority(ledger, { reserve: { times: 100, when: 'before' } }),
      failMode: 'open',
      subject: { tenant: 'acme' },
      retry: { attempts: 2, baseDelayMs: 0 },
      onEvent: (event) => {
        events.push(event);
      },
    });
    const result = await cycles.guard({ estimate: 50 }, (hold) => {
      expect(hold).toMatchObject({ guarded: false, reserved: 0, reservationId: '' });
      return 'ran';
    });
    expect(result).toBe('ran');
    expect(events).toMatchObject([{ type: 'fail-open', code: 'AUTHORITY_UNAVAILABLE', estimate: 50 }]);
    expect((await state(ledger)).spent).toBe(0);
  });
});
