import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { startBedrockEmulator } from '@cycles-guard/bedrock-emulator';
import { createCycles, createMemoryLedger } from '@cycles-guard/core';
import { ChatBedrockConverse } from '@langchain/aws';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { CyclesCallbackHandler, guardChatModel } from '../src/index.ts';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const MODEL = 'anthropic.claude-3-5-haiku-20241022-v1:0';
const emulator = await startBedrockEmulator({ port: 0, outputTokens: 20 });
const ledger = createMemoryLedger({ sweepIntervalMs: 0, ledgers: [{ scope: 'tenant:acme', unit: 'USD_MICROCENTS', allocated: 1e15 }] });
const cycles = createCycles({ authority: ledger, subject: { tenant: 'acme' } });
const client = new BedrockRuntimeClient({ region: 'us-east-1', endpoint: emulator.url, credentials: { accessKeyId: 'A', secretAccessKey: 'B' }, requestHandler: new NodeHttpHandler(), maxAttempts: 1 });
const m = new ChatBedrockConverse({ model: MODEL, region: 'us-east-1', client, maxTokens: 100 });
if (process.argv[2] === 'guarded') guardChatModel(m, new CyclesCallbackHandler({ cycles }));
for (let i = 0; i < 3000; i++) { await m.invoke('Tell me about budgets.'); emulator.requests.length = 0; }
await emulator.close();
