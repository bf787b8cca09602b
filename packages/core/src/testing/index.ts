// @cycles-guard/core/testing: the ledger conformance suite. Requires the optional peers vitest and fast-check.

export { ManualClock } from '../clock.ts';
export { expectedBurnAnomalies, type ModelSpend } from './burn-rate-model.ts';
export { describeLedgerConformance } from './conformance.ts';
export {
  ACTION,
  balanceOf,
  type ConformanceOptions,
  checkIdentity,
  countersOf,
  cyclesErrorOf,
  expectCyclesError,
  freshKey,
  type LedgerCounters,
  reserveRequest,
  type SeedOptions,
  seedBudget,
  snapshotLedgers,
  subjectOf,
  UNIT,
  withoutRemainingTtl,
} from './fixtures.ts';
export { type Harness, harnessFactory } from './harness.ts';
