import { createAmazonBedrock } from '@ai-sdk/amazon-bedrock';
import { startBedrockEmulator } from '@cycles-guard/bedrock-emulator';
import { createCycles, createMemoryLedger } from '@cycles-guard/core';
import { generateText, type LanguageModel, wrapLanguageModel } from 'ai';
import type { Benchmark } from '../../../scripts/bench.ts';
import { median, nowMicros } from '../../../scripts/bench-stats.ts';
import { cyclesMiddleware } from '../src/index.ts';

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
      middleware: cyclesMiddleware({ cycles: benchCycles() }),
    });
    const timed = async (model: LanguageModel) => {
      const started = nowMicros();
      await generateText({ model, prompt: 'Tell me about budgets.', maxOutputTokens: 100 });
      return nowMicros() - started;
    };
    for (let i = 0; i < 300; i++) {
      await timed(plain);
      await timed(guarded);
    }
    const runs = 2000;
    const plainTimes: number[] = [];
    const guardedTimes: number[] = [];
    // Interleaved (and alternating order) so drift, GC and socket reuse hit both sides alike.
    for (let i = 0; i < runs; i++) {
      if (i % 2 === 0) {
        plainTimes.push(await timed(plain));
        guardedTimes.push(await timed(guarded));
      } else {
        guardedTimes.push(await timed(guarded));
        plainTimes.push(await timed(plain));
      }
      emulator.requests.length = 0;
    }
    await emulator.close();
    return { 'aisdk.guard_overhead_us_p50': median(guardedTimes) - median(plainTimes) };
  },
};

/** Added median time of one guarded generateText call (reserve + cap + commit on the memory ledger). */
export const benchmarks: Benchmark[] = [overhead];
