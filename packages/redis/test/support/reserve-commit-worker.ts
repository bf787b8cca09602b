// A child process of the multi-process test: LOOPS concurrent reserve → commit loops against the shared
// Redis ledger. Prints one JSON line: what it was charged in total and how often it was refused.
import { CyclesError } from '@cycles-guard/core';
import { createRedisLedger } from '../../src/index.ts';

const [url, prefix, worker, loops, rounds, estimate] = process.argv.slice(2);
// A generous timeout: this test is about the budget across processes, not latency on a busy machine.
const ledger = createRedisLedger({
  url: url!,
  keyPrefix: prefix!,
  sweepIntervalMs: 0,
  operationTimeoutMs: 30_000,
});
const subject = { tenant: 'acme', workspace: `w${Number(worker) % 2}`, app: `app${worker}` };
const worstCase = Number(estimate);

let charged = 0;
let denied = 0;
let committed = 0;

async function loop(index: number): Promise<void> {
  for (let round = 0; round < Number(rounds); round++) {
    const key = `${worker}-${index}-${round}`;
    let reservationId: string;
    try {
      const response = await ledger.reserve({
        idempotencyKey: `r-${key}`,
        subject,
        action: { kind: 'llm.completion', name: 'multi-process' },
        estimate: { unit: 'TOKENS', amount: worstCase },
      });
      reservationId = response.reservationId!;
    } catch (error) {
      if (CyclesError.isInstance(error) && error.code === 'BUDGET_EXCEEDED') {
        denied += 1;
        continue;
      }
      throw error;
    }
    // Actual usage anywhere up to the worst case, as the LLM guard caps output tokens to the hold.
    const actual = Math.floor(Math.random() * (worstCase + 1));
    const response = await ledger.commit(reservationId, {
      idempotencyKey: `c-${key}`,
      actual: { unit: 'TOKENS', amount: actual },
    });
    charged += response.charged.amount;
    committed += 1;
  }
}

await Promise.all(Array.from({ length: Number(loops) }, (_, index) => loop(index)));
await ledger.close();
process.stdout.write(`${JSON.stringify({ charged, denied, committed })}\n`);
