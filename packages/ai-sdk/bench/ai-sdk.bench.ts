import { createAmazonBedrock } from '@ai-sdk/amazon-bedrock';
import { startBedrockEmulator } from '@cycles-guard/bedrock-emulator';
import { createCycles, createMemoryLedger } from '@cycles-guard/core';
import { generateText, type LanguageModel, wrapLanguageModel } from 'ai';
import type { Benchmark } from '../../../scripts/bench.ts';
import { measureGuardOverhead } from '../../../scripts/bench-stats.ts';
import { cyclesModelMiddleware } from '../src/index.ts';

delete process.env.AWS_ENDPOINT_URL_BEDROCK_RUNTIME;
delete process.env.AWS_ENDPOINT_URL;
const MODEL = 'anthropic.claude-3-5-haiku-20241022-v1:0';

function benchCycles() {
  const ledger = createMemoryLedger({
    sweepIntervalMs: 0,
    ledgers: [{ scope: 'tenant:acme', unit: 'USD_MICROCENTS', allocated: 1e15 }],
  });
  return createCycles({ authority: ledger, subject: { tenant: 'acme' } });
}

const overhead: Benchmark = {
  metrics: {
    'aisdk.guard_overhead_us_p50': { target: 150, better: 'lower', unit: 'µs' },
  },
  async run() {
    const emulator = await startBedrockEmulator({ port: 0, outputTokens: 20 });
    const bedrock = createAmazonBedrock({
      region: 'us-east-1',
      baseURL: emulator.url,
      accessKeyId: 'AKIDTEST',
      secretAccessKey: 'test',
    });
    const plain = bedrock(MODEL);
    const guarded = wrapLanguageModel({
      model: plain,
      middleware: cyclesModelMiddleware({ cycles: benchCycles() }),
    });
    const call = (model: LanguageModel) => () =>
      generateText({ model, prompt: 'Tell me about budgets.', maxOutputTokens: 100 });
    const { plainP50, guardedP50, overheadP50, warmupOverheadP50 } = await measureGuardOverhead(
      call(plain),
      call(guarded),
      {
        warmup: 3000,
        runs: 2000,
        afterPair: () => emulator.requests.splice(0),
      },
    );
    await emulator.close();
    console.error(
      `aisdk bench: plain p50 ${plainP50.toFixed(0)} µs, guarded p50 ${guardedP50.toFixed(0)} µs, ` +
        `added over the 3,000 warm-up pairs ${warmupOverheadP50.toFixed(0)} µs`,
    );
    return { 'aisdk.guard_overhead_us_p50': overheadP50 };
  },
};

/** Added median time of one guarded generateText call (reserve + cap + commit on the memory ledger). */
export const benchmarks: Benchmark[] = [overhead];
