import { createMemoryLedger, type Ledger } from '@cycles-guard/core';
import { type CyclesServer, startCyclesServer } from '../../src/server.ts';

/** A server whose reserve waits a while, so that a request is in flight when its shutdown begins. */
export interface SlowReserveServer {
  server: CyclesServer;
  /** The memory ledger under the slow one (tenant acme, 100 tokens): read it, close it at the end. */
  inner: Ledger;
  /** Settles once a reserve has reached the ledger and started waiting. */
  reserveEntered: Promise<void>;
  /** Sends tenant acme's reserve of 10 tokens. */
  reserve(): Promise<Response>;
}

/** Starts a server on the memory ledger whose every reserve waits `delayMs` before it runs. */
export async function startSlowReserveServer(apiKey: string, delayMs: number): Promise<SlowReserveServer> {
  const inner = createMemoryLedger({ ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS', allocated: 100 }] });
  let entered: () => void = () => {};
  const reserveEntered = new Promise<void>((resolve) => {
    entered = resolve;
  });
  const slow: Ledger = Object.create(inner, {
    reserve: {
      value: async (...args: Parameters<Ledger['reserve']>) => {
        entered();
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        return inner.reserve(...args);
      },
    },
  });
  const server = await startCyclesServer({
    port: 0,
    ledgerInstance: slow,
    apiKeys: { [apiKey]: 'acme' },
    logLevel: 'silent',
  });
  const reserve = () =>
    fetch(`${server.url}/v1/reservations`, {
      method: 'POST',
      headers: { 'X-Cycles-API-Key': apiKey, 'Content-Type': 'application/json' },
      body: JSON.stringify({
        idempotency_key: 'k',
        subject: { tenant: 'acme' },
        action: { kind: 'k', name: 'n' },
        estimate: { unit: 'TOKENS', amount: 10 },
      }),
    });
  return { server, inner, reserveEntered, reserve };
}
