import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../clock.ts';
import { createCycles } from '../cycles.ts';
import type { CyclesEvent } from '../events.ts';
import { createMemoryLedger } from '../ledger/memory-ledger.ts';
import { NotFoundError, ReservationExpiredError } from '../protocol/errors.ts';
import { flakyAuthority } from './__fixtures__/flaky-authority.ts';

describe('heartbeat', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: Date.UTC(2026, 0, 1) });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function setup(maxReservationExtensions = 10) {
    const ledger = createMemoryLedger({
      sweepIntervalMs: 0,
      ledgers: [{ scope: 'tenant:acme', unit: 'USD_MICROCENTS', allocated: 1000 }],
      tenants: { acme: { maxReservationExtensions } },
    });
    const events: CyclesEvent[] = [];
    const cycles = createCycles({
      authority: ledger,
      clock: systemClock,
      subject: { tenant: 'acme' },
      ttlMs: 10_000,
      onEvent: (event) => {
        events.push(event);
      },
    });
    return { ledger, cycles, events };
  }

  it('keeps a long call alive, keeping expiry one ttl ahead without drifting', async () => {
    const { ledger, cycles } = setup();
    const hold = await cycles.reserve({ estimate: 100 });
    const startedAt = Date.now();
    await vi.advanceTimersByTimeAsync(35_000);
    const detail = await ledger.getReservation(hold.reservationId);
    expect(detail.status).toBe('ACTIVE');
    // Never more than one ttl ahead of now: extensions top up, they do not stack.
    expect(detail.expiresAtMs - Date.now()).toBeLessThanOrEqual(10_000);
    expect(detail.expiresAtMs - Date.now()).toBeGreaterThan(0);
    expect(detail.expiresAtMs).toBeLessThanOrEqual(startedAt + 35_000 + 10_000);
    expect(await hold.commit(50)).toMatchObject({ status: 'committed', charged: 50, viaEvent: false });
  });

  it('retries a failed extend with the same key', async () => {
    const ledger = createMemoryLedger({
      sweepIntervalMs: 0,
      ledgers: [{ scope: 'tenant:acme', unit: 'USD_MICROCENTS', allocated: 1000 }],
    });
    const authority = flakyAuthority(ledger, { extend: { times: 2, when: 'before' } });
    const cycles = createCycles({
      authority,
      clock: systemClock,
      subject: { tenant: 'acme' },
      ttlMs: 10_000,
      retry: { baseDelayMs: 50 },
    });
    const hold = await cycles.reserve({ estimate: 100 });
    await vi.advanceTimersByTimeAsync(15_000);
    const keys = authority.calls.filter((call) => call.operation === 'extend').map((call) => call.key);
    expect(keys.slice(0, 3)).toEqual([keys[0], keys[0], keys[0]]);
    expect((await ledger.getReservation(hold.reservationId)).status).toBe('ACTIVE');
    await hold.release();
  });

  it('stops at settlement', async () => {
    const { cycles } = setup();
    const extend = vi.spyOn(cycles.authority, 'extend');
    const hold = await cycles.reserve({ estimate: 100 });
    await hold.release();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(extend).not.toHaveBeenCalled();
  });

  it('stops and reports when the authority refuses more extensions', async () => {
    const { cycles, events } = setup(2);
    const hold = await cycles.reserve({ estimate: 100 });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(events.at(-1)).toMatchObject({
      type: 'heartbeat-stopped',
      reservationId: hold.reservationId,
      reason: 'MAX_EXTENSIONS_EXCEEDED',
      extensions: 2,
    });
  });
  for (const [status, refusal] of [
    ['410 RESERVATION_EXPIRED', () => new ReservationExpiredError('Reservation expired (test)')],
    ['404 NOT_FOUND', () => new NotFoundError('Reservation not found (test)')],
  ] as const) {
    it(`stops at once and reports when extend answers ${status}`, async () => {
      const { cycles, events } = setup();
      // The real ledger answers everything else; only extend refuses, as a server that lost the hold would.
      const extend = vi.spyOn(cycles.authority, 'extend').mockImplementation(async () => {
        throw refusal();
      });
      const hold = await cycles.reserve({ estimate: 100 });
      await vi.advanceTimersByTimeAsync(10_000);
      expect(extend).toHaveBeenCalledTimes(1);
      const code = refusal().code;
      expect(events.filter((event) => event.type === 'heartbeat-stopped')).toEqual([
        expect.objectContaining({ reservationId: hold.reservationId, reason: code, extensions: 0 }),
      ]);
      // No retry and no further beat, however long the call runs.
      await vi.advanceTimersByTimeAsync(120_000);
      expect(extend).toHaveBeenCalledTimes(1);
      expect(await hold.commit(50)).toMatchObject({ status: 'committed' });
    });
  }
});
