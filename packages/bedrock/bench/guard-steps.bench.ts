import type { ServiceInputTypes, ServiceOutputTypes } from '@aws-sdk/client-bedrock-runtime';
import { createCycles, createMemoryLedger } from '@cycles-guard/core';
import type { HandlerExecutionContext, InitializeHandlerArguments } from '@smithy/types';
import type { Benchmark } from '../../../scripts/bench.ts';
import { median, nowMicros } from '../../../scripts/bench-stats.ts';
import { cyclesBedrockMiddleware } from '../src/index.ts';

// The guard's overhead split into steps, each alone in a hot loop (no SDK, no HTTP): the memory
// ledger's reserve+commit, core's beginLlmCall+commit on top of it, and the whole plugin middleware
// with a stand-in for the rest of the SDK stack. Inside a real SDK call the same code runs with cold
// caches and costs several times more (see README "Overhead"), so these are floors, not the overhead.

const MODEL = 'anthropic.claude-3-5-haiku-20241022-v1:0';
const RUNS = 5000;
const WARMUP = 1000;

function benchCycles() {
  const ledger = createMemoryLedger({
    sweepIntervalMs: 0,
    ledgers: [{ scope: 'tenant:acme', unit: 'USD_MICROCENTS', allocated: 1e15 }],
  });
  return { ledger, cycles: createCycles({ authority: ledger, subject: { tenant: 'acme' } }) };
}

async function medianMicros(step: (i: number) => Promise<unknown>): Promise<number> {
  for (let i = 0; i < WARMUP; i++) await step(i);
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const started = nowMicros();
    await step(WARMUP + i);
    times.push(nowMicros() - started);
  }
  return median(times);
}

const steps: Benchmark = {
  metrics: {
    'bedrock.step_ledger_us_p50': { target: 25, better: 'lower', unit: 'µs' },
    'bedrock.step_begin_llm_call_us_p50': { target: 40, better: 'lower', unit: 'µs' },
    'bedrock.step_middleware_us_p50': { target: 50, better: 'lower', unit: 'µs' },
  },
  async run() {
    const forLedger = benchCycles();
    const ledger = await medianMicros(async (i) => {
      const reserved = await forLedger.ledger.reserve({
        idempotencyKey: `bench-${i}`,
        subject: { tenant: 'acme' },
        action: { kind: 'llm.completion', name: MODEL },
        estimate: { unit: 'USD_MICROCENTS', amount: 1000 },
      });
      await forLedger.ledger.commit(reserved.reservationId ?? '', {
        idempotencyKey: `bench-${i}:commit`,
        actual: { unit: 'USD_MICROCENTS', amount: 500 },
      });
    });

    const { cycles } = benchCycles();
    const input = { messages: [{ role: 'user', content: ['Tell me about budgets.'] }] };
    const beginLlmCall = await medianMicros(async () => {
      const call = await cycles.beginLlmCall({ model: MODEL, input, maxOutputTokens: 100 });
      await call.commit({ inputTokens: 10, outputTokens: 20 });
    });

    // The plugin's initialize middleware around a `next` that answers like Converse at once.
    const guarded = benchCycles().cycles;
    const context = { commandName: 'ConverseCommand' } as HandlerExecutionContext;
    const answer = {
      output: { usage: { inputTokens: 10, outputTokens: 20, totalTokens: 30 }, $metadata: {} },
      response: {},
    } as unknown as { output: ServiceOutputTypes; response: unknown };
    const handler = cyclesBedrockMiddleware({ cycles: guarded })(async () => answer, context);
    const middleware = await medianMicros(() =>
      handler({
        input: {
          modelId: MODEL,
          messages: [{ role: 'user', content: [{ text: 'Tell me about budgets.' }] }],
          inferenceConfig: { maxTokens: 100 },
        },
      } as InitializeHandlerArguments<ServiceInputTypes>),
    );
    return {
      'bedrock.step_ledger_us_p50': ledger,
      'bedrock.step_begin_llm_call_us_p50': beginLlmCall,
      'bedrock.step_middleware_us_p50': middleware,
    };
  },
};

/** Hot-loop cost of each step of a guarded Converse call. */
export const benchmarks: Benchmark[] = [steps];
