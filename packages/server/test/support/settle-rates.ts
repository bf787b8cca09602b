import type { CyclesServer } from '../../src/server.ts';

/**
 * Waits until every rate event (denial, expiry, burn rate) the servers judge has been delivered: each
 * flushes its rate counts, then each drains its webhook queue, and the round runs twice.
 */
export async function settleRates(servers: CyclesServer[]): Promise<void> {
  for (let round = 0; round < 2; round++) {
    for (const server of servers) await server.rates!.flush();
    for (const server of servers) await server.webhooks!.idle();
  }
}
