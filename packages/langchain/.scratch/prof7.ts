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
class Noop extends BaseCallbackHandler { name = 'noop'; constructor() { super({ raiseError: true }); } async handleChatModelStart() {} async handleLLMEnd() {} }
const ledger = createMemoryLedger({ sweepIntervalMs: 0, ledgers: [{ scope: 'tenant:acme', unit: 'USD_MICROCENTS', allocated: 1e15 }] });
const cycles = createCycles({ authority: ledger, subject: { tenant: 'acme' } });
m.callbacks = [process.argv[2] === 'guarded' ? new CyclesCallbackHandler({ cycles }) : new Noop()];
for (let i = 0; i < 500; i++) { await m.invoke('Tell me about budgets.'); emulator.requests.length = 0; }
const { Session } = await import('node:inspector/promises');
const session = new Session(); session.connect();
await session.post('Profiler.enable'); await session.post('Profiler.start');
const s = process.cpuUsage();
for (let i = 0; i < 3000; i++) { await m.invoke('Tell me about budgets.'); emulator.requests.length = 0; }
const d = process.cpuUsage(s);
const { profile } = await session.post('Profiler.stop');
(await import('node:fs')).writeFileSync(`.scratch/${process.argv[2]}.cpuprofile`, JSON.stringify(profile));
console.log(process.argv[2], 'cpu µs/call', (d.user + d.system) / 3000);
await emulator.close();
