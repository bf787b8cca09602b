import { describeLedgerConformance } from '@cycles-guard/core/testing';
import { afterAll, beforeAll } from 'vitest';
import { createRedisLedger } from '../src/index.ts';
import { type RedisServer, startRedisServer } from '../src/testing/index.ts';

// The memory ledger's conformance suite, unchanged, against a real redis-server: each test gets a
// fresh key prefix on one server, and the suite's ManualClock is passed to every script as "now".

let server: RedisServer;
let ledgers = 0;

beforeAll(async () => {
  server = await startRedisServer();
});

afterAll(async () => {
  await server?.remove();
});

describeLedgerConformance('redis', {
  createLedger: (clock) => {
    ledgers += 1;
    return createRedisLedger({
      url: server.url,
      keyPrefix: `conformance:${ledgers}:`,
      clock,
      sweepIntervalMs: 0,
    });
  },
  expiresLazily: true,
});
