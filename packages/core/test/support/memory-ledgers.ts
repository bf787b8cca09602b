import { afterEach } from 'vitest';
import { createMemoryLedger, type MemoryLedgerOptions } from '../../src/ledger/memory-ledger.ts';
import type { Ledger } from '../../src/ledger/types.ts';
import type { ReserveRequest } from '../../src/protocol/types.ts';

// The memory ledgers of the ledger and ledger-event unit tests, and the reserve they send most.

export const ACTION = { kind: 'llm.completion', name: 'model' };

/** A factory of memory ledgers without a sweeper (tests move time themselves), each closed after its test. */
export function useMemoryLedgers(): (options: MemoryLedgerOptions) => Ledger {
  const open: Ledger[] = [];
  afterEach(async () => {
    for (const ledger of open.splice(0)) await ledger.close?.();
  });
  return (options) => {
    const ledger = createMemoryLedger({ sweepIntervalMs: 0, ...options });
    open.push(ledger);
    return ledger;
  };
}

let keys = 0;
/** A reserve of `amount` tokens by tenant acme's app chat, under a fresh idempotency key. */
export function reserveRequest(amount: number, extra: Partial<ReserveRequest> = {}): ReserveRequest {
  return {
    idempotencyKey: `k${++keys}`,
    subject: { tenant: 'acme', app: 'chat' },
    action: ACTION,
    estimate: { unit: 'TOKENS', amount },
    ...extra,
  };
}
