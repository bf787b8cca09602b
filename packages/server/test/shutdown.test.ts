import { describe, expect, it } from 'vitest';
import { startSlowReserveServer } from './support/slow-reserve-server.ts';

describe('graceful shutdown', () => {
  it('finishes in-flight requests, then refuses new connections and leaves the given ledger open', async () => {
    // A reserve that takes 300 ms, so a request is in flight when close() starts.
    const { server, inner, reserveEntered, reserve } = await startSlowReserveServer('key-acme-0001', 300);
    const inFlight = reserve();
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
