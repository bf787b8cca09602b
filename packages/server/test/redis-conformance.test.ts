import { describeLedgerConformance } from '@cycles-guard/core/testing';
import { afterEach, expect } from 'vitest';
import { createContractRecorder } from './support/contract.ts';
import { startHttpLedger } from './support/http-ledger.ts';
import { useRedisServer } from './support/redis-server.ts';

// The conformance suite over HTTP again, with the server on the Redis ledger: createHttpAuthority →
// cycles-guard-server → Redis (a redis-server this test starts; it fails, not skips, without one).

const recorder = createContractRecorder();
const redis = useRedisServer();
let prefixes = 0;

afterEach(() => {
  expect(recorder.violations, recorder.violations.join('\n')).toEqual([]);
});

describeLedgerConformance('HTTP authority → cycles-guard-server → Redis ledger', {
  createLedger: (clock) => {
    prefixes += 1;
    return startHttpLedger(clock, recorder, {
      type: 'redis',
      url: redis.server.url,
      keyPrefix: `server-conf:${prefixes}:`,
    });
  },
  // The Redis ledger runs the full property budget in its own package; over HTTP a few runs prove the wiring.
  propertyRuns: 5,
  expiresLazily: true,
  cascadesTenantClose: true,
});
