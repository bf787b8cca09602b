import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { startBedrockEmulator } from '@cycles-guard/bedrock-emulator';
import { createCycles, createMemoryLedger } from '@cycles-guard/core';
import { ChatBedrockConverse } from '@langchain/aws';
import { BaseCallbackHandler } from '@langchain/core/callbacks/base';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { CyclesCallbackHandler, guardChatModel } from '../src/index.ts';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const MODEL = 'anthropic.claude-3-5-haiku-20241022-v1:0';
function model(url: string) {
  const client = new BedrockRuntimeClient({ region: 'us-east-1', endpoint: url, credentials: { accessKeyId: 'A', secretAccessKey: 'B' }, requestHandler: new NodeHttpHandler(), maxAttempts: 1 });
  return new ChatBedrockConverse({ model: MODEL, region: 'us-east-1', client, maxTokens: 100 });
}
class Noop extends BaseCallbackHandler { name = 'noop'; constructor() { super({ raiseError: true }); } async handleChatModelStart() {} async handleLLMEnd() {} }
const emulator = await startBedrockEmulator({ port: 0, outputTokens: 20 });
const ledger = createMemoryLedger({ sweepIntervalMs: 0, ledgers: [{ scope: 'tenant:acme', unit: 'USD_MICROCENTS', allocated: 1e15 }] });
const cycles = createCycles({ authority: ledger, subject: { tenant: 'acme' } });
const plain = model(emulator.url);
const noop = model(emulator.url); noop.callbacks = [new Noop()];
const guarded = guardChatModel(model(emulator.url), new CyclesCallbackHandler({ cycles }));
const handlerOnly = model(emulator.url); handlerOnly.callbacks = [new CyclesCallbackHandler({ cycles })];
const cpu: Record<string, number> = { plain: 0, noop: 0, guarded: 0, handlerOnly: 0 };
for (let round = 0; round < 12; round++) {
  for (const [k, m] of Object.entries({ plain, noop, guarded, handlerOnly })) {
    const s = process.cpuUsage();
    for (let i = 0; i < 200; i++) { await m.invoke('Tell me about budgets.'); }
    const d = process.cpuUsage(s);
    if (round >= 2) cpu[k]! += (d.user + d.system) / 2000;
    emulator.requests.length = 0;
  }
}
console.log('cpu µs per call', Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, Math.round(v / 10 * 1)])));
await emulator.close();
