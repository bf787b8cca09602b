import {
  ConverseCommand,
  ConverseStreamCommand,
  CountTokensCommand,
  ListAsyncInvokesCommand,
} from '@aws-sdk/client-bedrock-runtime';
import type { BedrockEmulator } from '@cycles-guard/bedrock-emulator';
import { BudgetExceededError, ModelNotPricedError, runWithBudget } from '@cycles-guard/core';
import { usageCost } from '@cycles-guard/core/llm';
import { afterEach, describe, expect, it } from 'vitest';
import { getCyclesResult } from '../src/index.ts';
import { budget, guardedSetup, SCOPE, sdkClient } from './helpers.ts';

const HAIKU = 'anthropic.claude-3-5-haiku-20241022-v1:0';
const messages = [{ role: 'user' as const, content: [{ text: 'Tell me about budgets and guards.' }] }];
let emulator: BedrockEmulator | undefined;
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

function expectedCost(
  cycles: { catalog: { resolve(id: string): { price: Parameters<typeof usageCost>[1] } } },
  model: string,
  request: {
    inputTokens: number;
    outputTokens: number;
    cacheReadInputTokens?: number;
    cacheWriteInputTokens?: number;
  },
) {
  return usageCost(
    {
      inputTokens: request.inputTokens,
      outputTokens: request.outputTokens,
      cacheReadInputTokens: request.cacheReadInputTokens ?? 0,
      cacheWriteInputTokens: request.cacheWriteInputTokens ?? 0,
    },
    cycles.catalog.resolve(model).price,
  );
}

describe('Converse', () => {
  it('commits the exact emulator-reported cost and sends the full maxTokens when it fits', async () => {
    const setup = await guardedSetup(1e12);
    emulator = setup.emulator;
    const output = await setup.client.send(
      new ConverseCommand({ modelId: HAIKU, messages, inferenceConfig: { maxTokens: 500 } }),
    );
    const [request] = setup.emulator.requests;
    expect(request?.maxTokens).toBe(500);
    const state = await setup.state();
    expect(state.reserved).toBe(0);
    expect(state.spent).toBe(expectedCost(setup.cycles, HAIKU, request as never));
    expect(getCyclesResult(output)).toMatchObject({
      grantedMaxOutputTokens: 500,
      requestedMaxOutputTokens: 500,
      capped: false,
      charged: state.spent,
    });
  });

  it('cuts maxTokens to what the budget holds and sends the cut value', async () => {
    const price = (await import('@cycles-guard/core')).createCycles().catalog.resolve(HAIKU).price;
    // Room for the input estimate plus ~300 output tokens.
    const allocated = Math.ceil(
      (200 * Math.max(price.inputPerMillion, price.cacheWritePerMillion ?? 0) +
        300 * price.outputPerMillion) /
        1e6,
    );
    const setup = await guardedSetup(allocated);
    emulator = setup.emulator;
    const output = await setup.client.send(
      new ConverseCommand({ modelId: HAIKU, messages, inferenceConfig: { maxTokens: 4000 } }),
    );
    const result = getCyclesResult(output);
    expect(result?.capped).toBe(true);
    expect(setup.emulator.requests[0]?.maxTokens).toBe(result?.grantedMaxOutputTokens);
    expect(result?.grantedMaxOutputTokens).toBeLessThan(4000);
    const state = await setup.state();
    expect(state.spent).toBeLessThanOrEqual(allocated);
    expect(state.reserved).toBe(0);
  });

  it('denies before any request reaches Bedrock', async () => {
    const setup = await guardedSetup(10);
    emulator = setup.emulator;
    await expect(setup.client.send(new ConverseCommand({ modelId: HAIKU, messages }))).rejects.toBeInstanceOf(
      BudgetExceededError,
    );
    expect(setup.emulator.requests).toHaveLength(0);
    expect((await setup.state()).reserved).toBe(0);
  });

  it('refuses an unknown model before sending', async () => {
    const setup = await guardedSetup(1e12);
    emulator = setup.emulator;
    await expect(
      setup.client.send(new ConverseCommand({ modelId: 'acme.unknown-v1:0', messages })),
    ).rejects.toBeInstanceOf(ModelNotPricedError);
    expect(setup.emulator.requests).toHaveLength(0);
  });

  it('releases on throttling (spent 0)', async () => {
    const setup = await guardedSetup(1e12);
    emulator = setup.emulator;
    setup.emulator.faults.push({ kind: 'throttle' });
    await expect(setup.client.send(new ConverseCommand({ modelId: HAIKU, messages }))).rejects.toThrow(
      /Too many/,
    );
    const state = await setup.state();
    expect(state).toMatchObject({ spent: 0, reserved: 0 });
  });

  it('commits the whole hold when the connection drops after the request was sent (it may have billed)', async () => {
    const setup = await guardedSetup(1e12);
    emulator = setup.emulator;
    setup.emulator.faults.push({ kind: 'resetAfterRequest', times: Number.POSITIVE_INFINITY });
    await expect(setup.client.send(new ConverseCommand({ modelId: HAIKU, messages }))).rejects.toThrow();
    expect(setup.emulator.requests.length).toBeGreaterThan(0);
    const state = await setup.state();
    expect(state.reserved).toBe(0);
    expect(state.spent).toBeGreaterThan(0);
  });

  it('releases when the connection is refused', async () => {
    const { cycles, state } = budget(1e12);
    const client = sdkClient('http://127.0.0.1:1');
    const { cyclesBedrockPlugin } = await import('../src/index.ts');
    client.middlewareStack.use(cyclesBedrockPlugin({ cycles }));
    await expect(client.send(new ConverseCommand({ modelId: HAIKU, messages }))).rejects.toThrow();
    expect(await state()).toMatchObject({ spent: 0, reserved: 0 });
  });

  it('resolves inference-profile ids and ARNs', async () => {
    const setup = await guardedSetup(1e12);
    emulator = setup.emulator;
    for (const modelId of [
      `us.${HAIKU}`,
      `arn:aws:bedrock:us-east-1::foundation-model/${HAIKU}`,
      `arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.${HAIKU}`,
    ]) {
      await setup.client.send(
        new ConverseCommand({ modelId, messages, inferenceConfig: { maxTokens: 100 } }),
      );
    }
    const expected = setup.emulator.requests.reduce(
      (sum, r) => sum + expectedCost(setup.cycles, HAIKU, r as never),
      0,
    );
    expect(setup.emulator.requests.every((r) => r.resolvedModelId === HAIKU)).toBe(true);
    expect((await setup.state()).spent).toBe(expected);
  });

  it('uses the budget context subject', async () => {
    const setup = await guardedSetup(1e12);
    emulator = setup.emulator;
    const other = budget(1e12, 'USD_MICROCENTS', ['tenant:acme/workspace:ws1']);
    await runWithBudget({ cycles: other.cycles, subject: { workspace: 'ws1' } }, async () => {
      // The plugin has no `cycles` option here, so the context's instance and subject apply.
      const client = sdkClient(setup.emulator.url);
      const { cyclesBedrockPlugin } = await import('../src/index.ts');
      client.middlewareStack.use(cyclesBedrockPlugin());
      await client.send(
        new ConverseCommand({ modelId: HAIKU, messages, inferenceConfig: { maxTokens: 50 } }),
      );
    });
    const spent = (await other.state('tenant:acme/workspace:ws1')).spent;
    expect(spent).toBe(expectedCost(other.cycles, HAIKU, setup.emulator.requests[0] as never));
    expect((await setup.state()).spent).toBe(0);
  });

  it('counts tokens exactly with countTokens and does not guard the inner call', async () => {
    const setup = await guardedSetup(1e12);
    emulator = setup.emulator;
    const { cyclesBedrockPlugin } = await import('../src/index.ts');
    const client = sdkClient(setup.emulator.url);
    client.middlewareStack.use(cyclesBedrockPlugin({ cycles: setup.cycles, countTokens: true, client }));
    await client.send(new ConverseCommand({ modelId: HAIKU, messages, inferenceConfig: { maxTokens: 50 } }));
    expect(setup.emulator.requests.map((r) => r.operation)).toEqual(['CountTokens', 'Converse']);
    const counted = await client.send(
      new CountTokensCommand({ modelId: HAIKU, input: { converse: { messages } } }),
    );
    expect(counted.inputTokens).toBe(setup.emulator.requests[1]?.inputTokens);
  });

  it('prices prompt-cache writes and reads', async () => {
    const setup = await guardedSetup(1e12);
    emulator = setup.emulator;
    const system = [
      { text: 'You are a careful assistant. '.repeat(200) },
      { cachePoint: { type: 'default' as const } },
    ];
    for (let i = 0; i < 2; i++) {
      await setup.client.send(
        new ConverseCommand({ modelId: HAIKU, system, messages, inferenceConfig: { maxTokens: 50 } }),
      );
    }
    const [write, read] = setup.emulator.requests;
    expect(write?.cacheWriteInputTokens).toBeGreaterThan(0);
    expect(read?.cacheReadInputTokens).toBeGreaterThan(0);
    const expected =
      expectedCost(setup.cycles, HAIKU, write as never) + expectedCost(setup.cycles, HAIKU, read as never);
    expect((await setup.state()).spent).toBe(expected);
  });

  it('passes other commands through untouched', async () => {
    const setup = await guardedSetup(1e12);
    emulator = setup.emulator;
    await setup.client.send(new ListAsyncInvokesCommand({})).catch(() => {});
    expect((await setup.state()).reserved).toBe(0);
  });

  it('clamps a Converse thinking budget inside the cap', async () => {
    const model = 'anthropic.claude-3-7-sonnet-20250219-v1:0';
    const price = (await import('@cycles-guard/core')).createCycles().catalog.resolve(model).price;
    const allocated = Math.ceil(
      (200 * Math.max(price.inputPerMillion, price.cacheWritePerMillion ?? 0) +
        3000 * price.outputPerMillion) /
        1e6,
    );
    const setup = await guardedSetup(allocated);
    emulator = setup.emulator;
    await setup.client.send(
      new ConverseCommand({
        modelId: model,
        messages,
        inferenceConfig: { maxTokens: 8000 },
        additionalModelRequestFields: { thinking: { type: 'enabled', budget_tokens: 6000 } },
      }),
    );
    const request = setup.emulator.requests[0];
    const body = (typeof request?.body === 'string' ? JSON.parse(request.body) : request?.body) as {
      additionalModelRequestFields: { thinking: { budget_tokens: number } };
    };
    expect(request?.maxTokens).toBeLessThan(8000);
    expect(body.additionalModelRequestFields.thinking.budget_tokens).toBeLessThan(request?.maxTokens ?? 0);
    expect((await setup.state()).spent).toBeLessThanOrEqual(allocated);
  });
});

describe('ConverseStream', () => {
  it('commits the exact cost on finish', async () => {
    const setup = await guardedSetup(1e12);
    emulator = setup.emulator;
    const output = await setup.client.send(
      new ConverseStreamCommand({ modelId: HAIKU, messages, inferenceConfig: { maxTokens: 300 } }),
    );
    for await (const _ of output.stream ?? []) {
      // drain
    }
    const request = setup.emulator.requests[0];
    const state = await setup.state();
    expect(state.reserved).toBe(0);
    expect(state.spent).toBe(expectedCost(setup.cycles, HAIKU, request as never));
    expect(getCyclesResult(output)?.charged).toBe(state.spent);
  });

  for (const kind of ['exceptionMidStream', 'dropMidStream'] as const) {
    it(`commits the hold once on ${kind}`, async () => {
      const setup = await guardedSetup(1e12);
      emulator = setup.emulator;
      setup.emulator.faults.push({ kind, afterChunks: 2 });
      const output = await setup.client.send(
        new ConverseStreamCommand({ modelId: HAIKU, messages, inferenceConfig: { maxTokens: 300 } }),
      );
      await expect(async () => {
        for await (const _ of output.stream ?? []) {
          // drain
        }
      }).rejects.toThrow();
      const result = getCyclesResult(output);
      const state = await setup.state();
      expect(state.reserved).toBe(0);
      expect(state.spent).toBe(result?.charged);
      expect(state.spent).toBeGreaterThan(0);
    });
  }

  it('commits once when the consumer breaks, and closes the connection', async () => {
    const setup = await guardedSetup(1e12);
    emulator = setup.emulator;
    setup.emulator.latency.perChunkMs = 5;
    const output = await setup.client.send(
      new ConverseStreamCommand({ modelId: HAIKU, messages, inferenceConfig: { maxTokens: 2000 } }),
    );
    for await (const event of output.stream ?? []) {
      if (event.contentBlockDelta) break;
    }
    await setup.emulator.waitForIdle();
    expect(setup.emulator.requests[0]?.aborted).toBe(true);
    const state = await setup.state();
    expect(state.reserved).toBe(0);
    expect(state.spent).toBe(getCyclesResult(output)?.charged);
  });

  it('aborts the HTTP request when the budget context aborts', async () => {
    const setup = await guardedSetup(1e12);
    emulator = setup.emulator;
    setup.emulator.latency.perChunkMs = 20;
    const controller = new AbortController();
    const output = await runWithBudget({ cycles: setup.cycles, signal: controller.signal }, () =>
      setup.client.send(
        new ConverseStreamCommand({ modelId: HAIKU, messages, inferenceConfig: { maxTokens: 4000 } }),
      ),
    );
    let events = 0;
    await expect(async () => {
      for await (const _ of output.stream ?? []) {
        if (++events === 2) controller.abort();
      }
    }).rejects.toThrow();
    await setup.emulator.waitForIdle();
    expect(setup.emulator.requests[0]?.aborted).toBe(true);
    const state = await setup.state();
    expect(state.reserved).toBe(0);
    expect(state.spent).toBe(getCyclesResult(output)?.charged);
  });

  it('does not cut a capped stream off on its conservative output estimate', async () => {
    const setup = await guardedSetup(1e12, {}, undefined, { outputTokens: 4000 });
    emulator = setup.emulator;
    const output = await setup.client.send(
      new ConverseStreamCommand({ modelId: HAIKU, messages, inferenceConfig: { maxTokens: 300 } }),
    );
    for await (const _ of output.stream ?? []) {
      // drain
    }
    const request = setup.emulator.requests[0];
    expect(request).toMatchObject({ aborted: false, outputTokens: 300 });
    expect((await setup.state()).spent).toBe(expectedCost(setup.cycles, HAIKU, request as never));
  });
});

describe('TOKENS unit', () => {
  it('holds and commits tokens', async () => {
    const setup = await guardedSetup(100_000, {}, 'TOKENS');
    emulator = setup.emulator;
    await setup.client.send(
      new ConverseCommand({ modelId: HAIKU, messages, inferenceConfig: { maxTokens: 100 } }),
    );
    const request = setup.emulator.requests[0];
    const state = await setup.state();
    expect(state.spent).toBe((request?.inputTokens ?? 0) + (request?.outputTokens ?? 0));
    expect(state.reserved).toBe(0);
    expect(SCOPE).toBe('tenant:acme');
  });
});

describe('the SDK context', () => {
  it('keeps the shape it has without the plugin (no guard state added where no companion reads it)', async () => {
    const setup = await guardedSetup(1e12);
    emulator = setup.emulator;
    const plain = sdkClient(setup.emulator.url);
    const keysSeen = (client: typeof plain) => {
      const seen: string[][] = [];
      client.middlewareStack.add(
        (next, context) => (args) => {
          seen.push(Object.keys(context));
          return next(args);
        },
        { step: 'serialize', name: 'contextKeys' },
      );
      return seen;
    };
    const guardedKeys = keysSeen(setup.client);
    const plainKeys = keysSeen(plain);
    const command = () =>
      new ConverseCommand({ modelId: HAIKU, messages, inferenceConfig: { maxTokens: 100 } });
    await setup.client.send(command());
    await plain.send(command());
    expect(guardedKeys).toHaveLength(1);
    expect(guardedKeys).toEqual(plainKeys);
    expect((await setup.state()).spent).toBeGreaterThan(0);
  });
});

describe('createGuardedBedrockClient', () => {
  it('cancels a request that has not answered when the budget context aborts', async () => {
    const { startBedrockEmulator } = await import('@cycles-guard/bedrock-emulator');
    const { NodeHttpHandler } = await import('@smithy/node-http-handler');
    const { createGuardedBedrockClient } = await import('../src/index.ts');
    emulator = await startBedrockEmulator({ port: 0, latency: { firstByteMs: 300 } });
    const { cycles, state } = budget(1e12);
    const client = createGuardedBedrockClient(
      {
        region: 'us-east-1',
        endpoint: emulator.url,
        credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' },
        requestHandler: new NodeHttpHandler(),
        maxAttempts: 1,
      },
      { cycles, countTokens: true },
    );
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 450); // CountTokens takes ~300 ms, Converse ~300 ms more
    const started = Date.now();
    await expect(
      runWithBudget({ signal: controller.signal }, () =>
        client.send(new ConverseCommand({ modelId: HAIKU, messages, inferenceConfig: { maxTokens: 100 } })),
      ),
    ).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(580);
    await emulator.waitForIdle();
    expect(emulator.requests.map((r) => r.operation)).toEqual(['CountTokens', 'Converse']);
    expect(emulator.requests[1]?.aborted).toBe(true);
    // Sent and maybe billed: the hold is committed, never released at $0.
    const row = await state();
    expect(row.reserved).toBe(0);
    expect(row.spent).toBeGreaterThan(0);
  });
});
