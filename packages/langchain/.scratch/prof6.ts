import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { startBedrockEmulator } from '@cycles-guard/bedrock-emulator';
import { createCycles, createMemoryLedger } from '@cycles-guard/core';
import { ChatBedrockConverse } from '@langchain/aws';
import { BaseCallbackHandler } from '@langchain/core/callbacks/base';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { CyclesCallbackHandler } from '../src/index.ts';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const MODEL = 'anthropic.claude-3-5-haiku-20241022-v1:0';
const emulator = await startBedrockEmulator({ port: 0, outputTokens: 20 });
const client = new BedrockRuntimeClient({ region: 'us-east-1', endpoint: emulator.url, credentials: { accessKeyId: 'A', secretAccessKey: 'B' }, requestHandler: new NodeHttpHandler(), maxAttempts: 1 });
const m = new ChatBedrockConverse({ model: MODEL, region: 'us-east-1', client, maxTokens: 100 });
let startArgs: any[] = []; let endArgs: any[] = [];
class Rec extends BaseCallbackHandler { name = 'rec'; constructor() { super({ raiseError: true }); } async handleChatModelStart(...a: any[]) { startArgs = a; } async handleLLMEnd(...a: any[]) { endArgs = a; } }
await m.invoke('Tell me about budgets.', { callbacks: [new Rec()] });
await emulator.close();
const ledger = createMemoryLedger({ sweepIntervalMs: 0, ledgers: [{ scope: 'tenant:acme', unit: 'USD_MICROCENTS', allocated: 1e15 }] });
const cycles = createCycles({ authority: ledger, subject: { tenant: 'acme' } });
const handler = new CyclesCallbackHandler({ cycles });
const now = () => Number(process.hrtime.bigint()) / 1000;
const times: number[] = []; const startT: number[] = [];
for (let i = 0; i < 20000; i++) {
  const runId = `run-${i}`;
  const a = [...startArgs]; a[2] = runId; a[4] = { ...a[4], options: {} };
  const s = now();
  await (handler.handleChatModelStart as any)(...a);
  const mid = now();
  await handler.handleLLMEnd(endArgs[0], runId);
  if (i > 2000) { times.push(now() - s); startT.push(mid - s); }
}
times.sort((a, b) => a - b); startT.sort((a, b) => a - b);
console.log('median total', times[times.length >> 1], 'start', startT[startT.length >> 1]);
console.log(Object.keys(startArgs[4]), JSON.stringify(startArgs[6]).slice(0, 300));
