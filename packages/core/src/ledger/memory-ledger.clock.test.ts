import { describe, expect, it } from 'vitest';
import { ManualClock } from '../clock.ts';
import { createMemoryLedger } from './memory-ledger.ts';

/** A manual clock that counts its reads. */
class CountingClock extends ManualClock {
  reads = 0;
  override now(): number {
    this.reads++;
    return super.now();
  }
}

const SCOPES = ['tenant:acme', 'tenant:acme/workspace:prod', 'tenant:acme/workspace:prod/app:chat'];

// The hot path reads the clock once per operation: the rate counters and the burn rates of all three
// scopes take the operation's reading instead of their own.
describe('memory ledger clock reads', () => {
  it.each([
    ['events on', {}],
    ['events off', { events: false as const }],
  ])('reads the clock once per reserve and once per commit (%s)', async (_name, events) => {
    const clock = new CountingClock();
    const ledger = createMemoryLedger({
      clock,
      sweepIntervalMs: 0,
      ...events,
      ledgers: SCOPES.map((scope) => ({ scope, unit: 'USD_MICROCENTS', allocated: 1_000_000 })),
    });
    for (let i = 0; i < 3; i++) {
      clock.reads = 0;
      const { reservationId } = await ledger.reserve({
        idempotencyKey: `r${i}`,
        subject: { tenant: 'acme', workspace: 'prod', app: 'chat' },
        action: { kind: 'llm.completion', name: 'm' },
        estimate: { unit: 'USD_MICROCENTS', amount: 1000 },
      });
      expect(clock.reads).toBe(1);
      clock.advance(10);
      await ledger.commit(reservationId as string, {
        idempotencyKey: `c${i}`,
        actual: { unit: 'USD_MICROCENTS', amount: 700 },
      });
      expect(clock.reads).toBe(2);
    }
    await ledger.close?.();
  });
});
