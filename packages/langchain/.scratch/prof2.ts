import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { startBedrockEmulator } from '@cycles-guard/bedrock-emulator';
import { createCycles, createMemoryLedger } from '@cycles-guard/core';
import { ChatBedrockConverse } from '@langchain/aws';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { CyclesCallbackHandler } from '../src/index.ts';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const MODEL = 'anthropic.claude-3-5-haiku-20241022-v1:0';
const emulator = await startBedrockEmulator({ port: 0, outputTokens: 20 });
const ledger = createMemoryLedger({ sweepIntervalMs: 0, ledgers: [{ scope: 'tenant:acme', unit: 'USD_MICROCENTS', allocated: 1e15 }] });
const cycles = createCycles({ authority: ledger, subject: { tenant: 'acme' } });
const handler = new CyclesCallbackHandler({ cycles });
const llm = { lc: 1, type: 'constructor', id: ['x'], kwargs: { model: MODEL } } as never;
const { HumanMessage } = await import('@langchain/core/messages');
const msgs = [[new HumanMessage('Tell me about budgets.')]];
const now = () => Number(process.hrtime.bigint()) / 1000;
const times: number[] = [];
for (let i = 0; i < 20000; i++) {
  const runId = `run-${i}`;
  const s = now();
  await handler.handleChatModelStart(llm, msgs, runId, undefined, { options: {}, invocation_params: { inferenceConfig: { maxTokens: 100 } } }, [], { ls_model_name: MODEL });
  await handler.handleLLMEnd({ generations: [[{ text: '', message: { usage_metadata: { input_tokens: 10, output_tokens: 20, total_tokens: 30 } } } as never]] }, runId);
  if (i > 2000) times.push(now() - s);
}
times.sort((a, b) => a - b);
console.log('handler reserve+commit median µs', times[times.length >> 1]);
await emulator.close();
