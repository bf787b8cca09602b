import { describeLedgerConformance } from '@cycles-guard/core/testing';
import { afterAll, beforeAll } from 'vitest';
import { createRedisLedger, type RedisLedgerOptions } from '../src/index.ts';
import { type RedisServer, startRedisServer } from '../src/testing/index.ts';

// The memory ledger's conformance suite, unchanged, against a real redis-server: each test gets a
// fresh key prefix on one server, and the suite's ManualClock is passed to every script as "now".
// It runs twice: with the function library (FCALL, the default) and with EVALSHA scripts.

let server: RedisServer;
let ledgers = 0;

beforeAll(async () => {
  server = await startRedisServer();
});

afterAll(async () => {
  await server?.remove();
});

for (const scriptMode of ['function', 'eval'] as const) {
  describeLedgerConformance(`redis (${scriptMode})`, {
    createLedger: (clock) => {
      ledgers += 1;
      const options: RedisLedgerOptions = {
        url: server.url,
        keyPrefix: `conformance:${ledgers}:`,
        clock,
        sweepIntervalMs: 0,
        scriptMode,
      };
      return createRedisLedger(options);
    },
    expiresLazily: true,
  });
}
