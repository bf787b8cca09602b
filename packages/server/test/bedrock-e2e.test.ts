import {
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
} from '@aws-sdk/client-bedrock-runtime';
import { cyclesBedrockPlugin, getCyclesResult } from '@cycles-guard/bedrock';
import { type BedrockEmulator, startBedrockEmulator } from '@cycles-guard/bedrock-emulator';
import {
  AuthorityUnavailableError,
  BudgetExceededError,
  type Cycles,
  createCycles,
  createHttpAuthority,
} from '@cycles-guard/core';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterEach, describe, expect, it } from 'vitest';
import { type CyclesServer, startCyclesServer } from '../src/server.ts';
import { createContractRecorder } from './support/contract.ts';

// End to end: AWS SDK client + cyclesBedrockPlugin → createHttpAuthority → cycles-guard-server →
// memory ledger, with the Bedrock emulator answering the model calls.

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const HAIKU = 'anthropic.claude-3-5-haiku-20241022-v1:0';
const API_KEY = 'bedrock-e2e-key-0001';
const messages = [{ role: 'user' as const, content: [{ text: 'Tell me about budgets and guards.' }] }];
const recorder = createContractRecorder();
let server: CyclesServer | undefined;
let emulator: BedrockEmulator | undefined;
let cycles: Cycles | undefined;

afterEach(async () => {
  await cycles?.close();
  await server?.close();
  await emulator?.close();
  server = emulator = cycles = undefined;
  expect(recorder.violations, recorder.violations.join('\n')).toEqual([]);
});

async function setup(allocated: number, options: { leafAllocated?: number } = {}) {
  emulator = await startBedrockEmulator({ port: 0 });
  server = await startCyclesServer({
    port: 0,
    logLevel: 'silent',
    apiKeys: { [API_KEY]: 'acme' },
    ledgers: [
      { scope: 'tenant:acme', unit: 'USD_MICROCENTS', allocated },
      ...(options.leafAllocated === undefined
        ? []
        : [
            {
              scope: 'tenant:acme/app:chat',
              unit: 'USD_MICROCENTS' as const,
              allocated: options.leafAllocated,
            },
          ]),
    ],
  });
  cycles = createCycles({
    authority: createHttpAuthority({ baseUrl: server.url, apiKey: API_KEY, fetch: recorder.fetch }),
    subject: { tenant: 'acme', app: 'chat' },
    heartbeat: false,
  });
  const client = new BedrockRuntimeClient({
    region: 'us-east-1',
    endpoint: emulator.url,
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' },
    requestHandler: new NodeHttpHandler(),
    maxAttempts: 1,
  });
  client.middlewareStack.use(cyclesBedrockPlugin({ cycles }));
  const ledger = server.ledger;
  const state = async (scope = 'tenant:acme') => {
    const row = await ledger.getLedger(scope, 'USD_MICROCENTS');
    if (row === undefined) throw new Error(`no ledger ${scope}`);
    return row;
  };
  return { client, emulator, state };
}

describe('Bedrock through the Cycles server', () => {
  it('reserves over HTTP, sends the full maxTokens when it fits, and commits the real cost', async () => {
    const { client, emulator, state } = await setup(1e12);
    const output = await client.send(
      new ConverseCommand({ modelId: HAIKU, messages, inferenceConfig: { maxTokens: 500 } }),
    );
    expect(emulator.requests[0]?.maxTokens).toBe(500);
    const result = getCyclesResult(output);
    const row = await state();
    expect(row.reserved).toBe(0);
    expect(row.spent).toBe(result?.charged);
    expect(row.spent).toBeGreaterThan(0);
    expect(recorder.exercised.get('createReservation')).toBeDefined();
    expect(recorder.exercised.get('commitReservation')).toBeDefined();
  });

  it('caps maxTokens to the partial hold the HTTP authority negotiates from the balances', async () => {
    const price = createCycles().catalog.resolve(HAIKU).price;
    // The leaf budget fits the input estimate and ~300 output tokens; the tenant has plenty.
    const leaf = Math.ceil(
      (200 * Math.max(price.inputPerMillion, price.cacheWritePerMillion ?? 0) +
        300 * price.outputPerMillion) /
        1e6,
    );
    const { client, emulator, state } = await setup(1e12, { leafAllocated: leaf });
    const output = await client.send(
      new ConverseCommand({ modelId: HAIKU, messages, inferenceConfig: { maxTokens: 4000 } }),
    );
    const result = getCyclesResult(output);
    expect(result?.capped).toBe(true);
    expect(result?.grantedMaxOutputTokens).toBeLessThan(4000);
    expect(emulator.requests[0]?.maxTokens).toBe(result?.grantedMaxOutputTokens);
    const row = await state('tenant:acme/app:chat');
    expect(row.spent).toBeLessThanOrEqual(leaf);
    expect(row.reserved).toBe(0);
    expect(recorder.exercised.get('getBalances')).toBeDefined();
  });

  it('refuses before any request reaches Bedrock when the budget is gone', async () => {
    const { client, emulator } = await setup(10);
    await expect(
      client.send(new ConverseCommand({ modelId: HAIKU, messages, inferenceConfig: { maxTokens: 500 } })),
    ).rejects.toSatisfy((error) => BudgetExceededError.isInstance(error));
    expect(emulator.requests).toHaveLength(0);
  });

  it('fails closed when the Cycles server is down: no Bedrock request leaves', async () => {
    const { client, emulator } = await setup(1e12);
    await server?.close();
    await expect(
      client.send(new ConverseCommand({ modelId: HAIKU, messages, inferenceConfig: { maxTokens: 100 } })),
    ).rejects.toSatisfy((error) => AuthorityUnavailableError.isInstance(error));
    expect(emulator.requests).toHaveLength(0);
  });

  it('20 concurrent streamed calls never spend more than the budget, and every hold settles', async () => {
    const price = createCycles().catalog.resolve(HAIKU).price;
    const perCall = Math.ceil((200 * price.inputPerMillion + 400 * price.outputPerMillion) / 1e6);
    const allocated = perCall * 6;
    const { client, state } = await setup(allocated);
    const outcomes = await Promise.allSettled(
      Array.from({ length: 20 }, async () => {
        const output = await client.send(
          new ConverseStreamCommand({ modelId: HAIKU, messages, inferenceConfig: { maxTokens: 400 } }),
        );
        for await (const _event of output.stream ?? []) {
          // drain
        }
      }),
    );
    const row = await state();
    expect(row.spent).toBeLessThanOrEqual(allocated);
    expect(row.reserved).toBe(0);
    expect(row.remaining).toBe(row.allocated - row.spent - row.debt);
    expect(outcomes.some((outcome) => outcome.status === 'fulfilled')).toBe(true);
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') expect(BudgetExceededError.isInstance(outcome.reason)).toBe(true);
    }
  }, 30_000);
});
