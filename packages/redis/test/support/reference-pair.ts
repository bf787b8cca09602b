import { createMemoryLedger, type Ledger } from '@cycles-guard/core';
import { ManualClock } from '@cycles-guard/core/testing';
import type { RedisLedger } from '../../src/index.ts';
import type { useRedis } from './server.ts';

/** The memory ledger, the reference a differential test holds the Redis ledger to, and the Redis one. */
export interface ReferencePair {
  memory: Ledger;
  memoryClock: ManualClock;
  ledger: RedisLedger;
  redisClock: ManualClock;
}

/**
 * Both ledgers with balances on, each on its own manual clock (advanced alike by the test), provisioned
 * by the same `provision`, the Redis one under a fresh key prefix.
 */
export async function startReferencePair(
  redis: ReturnType<typeof useRedis>,
  provision: (ledger: Ledger) => Promise<void>,
): Promise<ReferencePair> {
  const memoryClock = new ManualClock();
  const redisClock = new ManualClock();
  const memory = createMemoryLedger({
    clock: memoryClock,
    sweepIntervalMs: 0,
    includeBalances: true,
  });
  const ledger = redis.ledger({ clock: redisClock, includeBalances: true });
  await provision(memory);
  await provision(ledger);
  return { memory, memoryClock, ledger, redisClock };
}
