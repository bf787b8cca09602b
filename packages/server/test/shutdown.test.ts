import { createMemoryLedger, type Ledger } from '@cycles-guard/core';
import { describe, expect, it } from 'vitest';
import { startCyclesServer } from '../src/server.ts';

describe('graceful shutdown', () => {
  it('finishes in-flight requests, then refuses new connections and leaves the given ledger open', async () => {
    const inner = createMemoryLedger({ ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS', allocated: 100 }] });
    let entered: () => void = () => {};
    const reserveEntered = new Promise<void>((resolve) => {
      entered = resolve;
    });
    // A ledger whose reserve takes a while, so a request is in flight when close() starts.
    const slow: Ledger = Object.create(inner, {
      reserve: {
        value: async (...args: Parameters<Ledger['reserve']>) => {
          entered();
          await new Promise((resolve) => setTimeout(resolve, 300));
          return inner.reserve(...args);
        },
      },
    });
    const server = await startCyclesServer({
      port: 0,
      ledgerInstance: slow,
      apiKeys: { 'key-acme-0001': 'acme' },
      logLevel: 'silent',
    });
    const inFlight = fetch(`${server.url}/v1/reservations`, {
      method: 'POST',
      headers: { 'X-Cycles-API-Key': 'key-acme-0001', 'Content-Type': 'application/json' },
      body: JSON.stringify({
        idempotency_key: 'k',
        subject: { tenant: 'acme' },
        action: { kind: 'k', name: 'n' },
        estimate: { unit: 'TOKENS', amount: 10 },
      }),
    });
    await reserveEntered;
    const closed = server.close();
    const response = await inFlight;
    expect(response.status).toBe(200);
    expect(((await response.json()) as { decision: string }).decision).toBe('ALLOW');
    await closed;
    await expect(fetch(`${server.url}/health`)).rejects.toThrow();
    expect((await inner.getLedger('tenant:acme', 'TOKENS'))?.reserved).toBe(10);
    await inner.close?.();
  });
});
