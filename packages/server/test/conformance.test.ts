import { describeLedgerConformance } from '@cycles-guard/core/testing';
import { afterAll, afterEach, expect } from 'vitest';
import { createContractRecorder } from './support/contract.ts';
import { startHttpLedger } from './support/http-ledger.ts';

// The core ledger conformance suite, end to end over HTTP: createHttpAuthority → cycles-guard-server →
// memory ledger. Every protocol response of the run is validated against the OpenAPI spec as well.

const recorder = createContractRecorder();

afterEach(() => {
  expect(recorder.violations, recorder.violations.join('\n')).toEqual([]);
});

afterAll(() => {
  expect(recorder.checked).toBeGreaterThan(100);
});

describeLedgerConformance('HTTP authority → cycles-guard-server → memory ledger', {
  createLedger: (clock) => startHttpLedger(clock, recorder),
  propertyRuns: 15,
  expiresLazily: true,
  cascadesTenantClose: true,
});
