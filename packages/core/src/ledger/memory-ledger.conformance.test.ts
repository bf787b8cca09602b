import { describeLedgerConformance } from '../testing/index.ts';
import { createMemoryLedger } from './memory-ledger.ts';

describeLedgerConformance('memory ledger', {
  createLedger: (clock) => createMemoryLedger({ clock, sweepIntervalMs: 0 }),
  expiresLazily: true,
});
