// The client side of callgrind-pairs.sh: `<port> <pairs> [callers]` reserve → commit pairs from that many
// concurrent callers (default 1; several: their operations go in groups, see src/group-commit.ts).
import { createRedisLedger } from '../src/index.ts';

const [port, pairs = 0, callers = 1] = process.argv.slice(2).map(Number);
const ledger = createRedisLedger({
  url: `redis://127.0.0.1:${port}`,
  keyPrefix: 'callgrind:',
  sweepIntervalMs: 0,
  operationTimeoutMs: 60_000,
  reservationReplayWindowMs: 0,
  // CALLGRIND_BOUND=<n>: the tenant's reservation bound, so that past n every reserve forgets its oldest
  // ended one, as the 50-caller benchmark's tenant does once past the default 50,000.
  ...(process.env.CALLGRIND_BOUND ? { maxReservationsPerTenant: Number(process.env.CALLGRIND_BOUND) } : {}),
});
const subject = { tenant: 'acme', workspace: 'prod', app: 'chat' };
for (const scope of ['tenant:acme', 'tenant:acme/workspace:prod', 'tenant:acme/workspace:prod/app:chat']) {
  await ledger.createLedger({ scope, unit: 'USD_MICROCENTS', allocated: 1e15 }).catch(() => {});
}
const run = `${Date.now()}`;
const pair = async (i: number) => {
  const { reservationId } = await ledger.reserve({
    idempotencyKey: `${run}-r${i}`,
    subject,
    action: { kind: 'llm.completion', name: 'callgrind' },
    estimate: { unit: 'USD_MICROCENTS', amount: 1000 },
  });
  await ledger.commit(reservationId as string, {
    idempotencyKey: `${run}-c${i}`,
    actual: { unit: 'USD_MICROCENTS', amount: 700 },
  });
};
let next = 0;
await Promise.all(
  Array.from({ length: callers }, async () => {
    while (next < pairs) await pair(next++);
  }),
);
await ledger.close();
