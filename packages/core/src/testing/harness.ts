import { afterEach } from 'vitest';
import { ManualClock } from '../clock.ts';
import type { Ledger } from '../ledger/types.ts';
import type { ConformanceOptions } from './fixtures.ts';

/** A fresh ledger and the manual clock that drives it. */
export interface Harness {
  ledger: Ledger;
  clock: ManualClock;
}

/**
 * Returns a function that builds a fresh harness per call, and registers an `afterEach` that closes every
 * ledger built during the test. Call it inside a `describe` block.
 */
export function harnessFactory(options: ConformanceOptions): () => Promise<Harness> {
  const open: Ledger[] = [];
  afterEach(async () => {
    for (const ledger of open.splice(0)) await ledger.close?.();
  });
  return async () => {
    const clock = new ManualClock();
    const ledger = await options.createLedger(clock);
    open.push(ledger);
    return { ledger, clock };
  };
}
