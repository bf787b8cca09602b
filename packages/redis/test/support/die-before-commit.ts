// A child process of the outbox test and the settlement torture scenario: takes CALLS guarded LLM calls on
// the Redis ledger with a file journal, "gets the provider's answer", prints `answered [[id, reserved]...]`
// and waits to be SIGKILLed before it commits anything.
import { createCycles } from '@cycles-guard/core';
import { createRedisLedger } from '../../src/index.ts';

const [url, prefix, directory, calls] = process.argv.slice(2);
const ledger = createRedisLedger({
  url: url!,
  keyPrefix: prefix!,
  sweepIntervalMs: 0,
  operationTimeoutMs: 10_000,
});
const cycles = createCycles({
  authority: ledger,
  subject: { tenant: 'acme' },
  prices: {
    'test.model-v1': { inputPerMillion: 1_000_000, outputPerMillion: 4_000_000, maxOutputTokens: 1000 },
  },
  heartbeat: false,
  outbox: { directory: directory! },
});
const held = await Promise.all(
  Array.from({ length: Number(calls) }, () =>
    cycles.beginLlmCall({ model: 'test.model-v1', inputTokens: 100 }),
  ),
);
// The provider call: long enough for the background intent writes to land, as a real one would be.
await new Promise((resolve) => setTimeout(resolve, 200));
process.stdout.write(`answered ${JSON.stringify(held.map((call) => [call.reservationId, call.reserved]))}\n`);
setInterval(() => {}, 1_000); // wait for SIGKILL, never commit
