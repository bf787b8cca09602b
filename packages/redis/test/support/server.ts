import { afterAll, beforeAll } from 'vitest';
import { createRedisLedger, type RedisLedger, type RedisLedgerOptions } from '../../src/index.ts';
import { type RedisServer, startRedisServer } from '../../src/testing/index.ts';

/**
 * One redis-server per test file, and a factory of ledgers on it; each call to `ledger()` without a
 * prefix gets a fresh one, so tests never see each other's keys. Everything is closed after the file.
 */
export function useRedis() {
  let server: RedisServer | undefined;
  const open: RedisLedger[] = [];
  let count = 0;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    for (const ledger of open.splice(0)) await ledger.close();
    await server?.remove();
  });
  return {
    get server(): RedisServer {
      if (server === undefined) throw new Error('redis-server not started yet');
      return server;
    },
    /** A fresh key prefix. */
    prefix(): string {
      count += 1;
      return `t${count}:`;
    },
    ledger(options: RedisLedgerOptions = {}): RedisLedger {
      if (server === undefined) throw new Error('redis-server not started yet');
      const ledger = createRedisLedger({
        url: server.url,
        sweepIntervalMs: 0,
        keyPrefix: this.prefix(),
        ...options,
      });
      open.push(ledger);
      return ledger;
    },
  };
}
