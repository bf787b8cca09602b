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
const t = { plain: [] as number[], noop: [] as number[], guarded: [] as number[], handlerOnly: [] as number[] };
const now = () => Number(process.hrtime.bigint()) / 1000;
for (let i = 0; i < 1000; i++) {
  for (const [k, m] of (i % 2 ? Object.entries({ plain, noop, guarded, handlerOnly }) : Object.entries({ handlerOnly, guarded, noop, plain }))) {
    const s = now(); await m.invoke('Tell me about budgets.'); if (i > 300) (t as any)[k].push(now() - s);
  }
  emulator.requests.length = 0;
}
const med = (a: number[]) => a.sort((x, y) => x - y)[a.length >> 1];
console.log('plain', med(t.plain), 'noop', med(t.noop), 'guarded', med(t.guarded), 'handlerOnly', med(t.handlerOnly));
await emulator.close();
