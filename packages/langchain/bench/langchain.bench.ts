import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { startBedrockEmulator } from '@cycles-guard/bedrock-emulator';
import { createCycles, createMemoryLedger } from '@cycles-guard/core';
import { ChatBedrockConverse } from '@langchain/aws';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { Benchmark } from '../../../scripts/bench.ts';
import { median, nowMicros } from '../../../scripts/bench-stats.ts';
import { CyclesCallbackHandler, guardChatModel } from '../src/index.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const MODEL = 'anthropic.claude-3-5-haiku-20241022-v1:0';

function model(url: string): ChatBedrockConverse {
  const client = new BedrockRuntimeClient({
    region: 'us-east-1',
    endpoint: url,
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' },
    requestHandler: new NodeHttpHandler(),
    maxAttempts: 1,
  });
  return new ChatBedrockConverse({ model: MODEL, region: 'us-east-1', client, maxTokens: 100 });
}

const overhead: Benchmark = {
  metrics: {
    'langchain.guard_overhead_us_p50': { target: 150, better: 'lower', unit: 'µs' },
  },
  async run() {
    const emulator = await startBedrockEmulator({ port: 0, outputTokens: 20 });
    const ledger = createMemoryLedger({
      sweepIntervalMs: 0,
      ledgers: [{ scope: 'tenant:acme', unit: 'USD_MICROCENTS', allocated: 1e15 }],
    });
    const cycles = createCycles({ authority: ledger, subject: { tenant: 'acme' } });
    const plain = model(emulator.url);
    // The same model class and client setup, plus the handler (reserve, commit) and its cap plugin.
    const guarded = guardChatModel(model(emulator.url), new CyclesCallbackHandler({ cycles }));
    const timed = async (target: ChatBedrockConverse) => {
      const started = nowMicros();
      await target.invoke('Tell me about budgets.');
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
    await cycles.close();
    // Median of the per-pair differences: on a shared, loaded machine it moves far less than the
    // difference of the two medians (both are printed to stderr for comparison).
    const paired = guardedTimes.map((time, index) => time - (plainTimes[index] ?? time));
    console.error(
      `langchain bench: plain p50 ${median(plainTimes).toFixed(0)} µs, guarded p50 ${median(guardedTimes).toFixed(0)} µs, ` +
        `difference of medians ${(median(guardedTimes) - median(plainTimes)).toFixed(0)} µs, median of pair differences ${median(paired).toFixed(0)} µs`,
    );
    return { 'langchain.guard_overhead_us_p50': median(paired) };
  },
};

export const benchmarks: Benchmark[] = [overhead];
