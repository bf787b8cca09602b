import { type BedrockEmulator, startBedrockEmulator } from '@cycles-guard/bedrock-emulator';
import { BudgetExceededError } from '@cycles-guard/core';
import { ChatBedrockConverse } from '@langchain/aws';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CyclesCallbackHandler,
  type CyclesRunSettlement,
  guardChatModel,
  RUN_LINK_KEY,
} from '../src/index.ts';
import { budget, HAIKU, priced, room, sdkClient } from './helpers.ts';

let emulator: BedrockEmulator;
beforeAll(async () => {
  emulator = await startBedrockEmulator({ port: 0, seed: 3 });
});
afterAll(async () => {
  await emulator.close();
});

type JsonObject = Record<string, unknown>;

/**
 * Records, per run id, the max tokens of the request as signed and sent: the run id is read from the
 * link before the model's capped client takes it out, the grant from the input the SDK serializes.
 */
function recordSentGrants(model: ChatBedrockConverse, client: ReturnType<typeof sdkClient>) {
  const sent = new Map<string, number>();
  const runOf = new WeakMap<object, string>();
  const capped = model.client;
  model.client = Object.assign(Object.create(capped), {
    send(command: { input: JsonObject }, options?: unknown) {
      const metadata = command.input.requestMetadata as JsonObject | undefined;
      runOf.set(command, metadata?.[RUN_LINK_KEY] as string);
      return capped.send(command as never, options as never);
    },
  });
  const RUN = Symbol('run');
  // The SDK hands the command itself to the first middleware.
  client.middlewareStack.add(
    (next, context) => async (args) => {
      (context as Record<symbol, unknown>)[RUN] = runOf.get(args);
      return next(args);
    },
    { step: 'initialize', priority: 'high', name: 'testReadRun' },
  );
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const runId = (context as Record<symbol, unknown>)[RUN] as string;
      const input = args.input as { inferenceConfig?: { maxTokens?: number }; requestMetadata?: JsonObject };
      expect(input.requestMetadata?.[RUN_LINK_KEY]).toBeUndefined();
      sent.set(runId, input.inferenceConfig?.maxTokens ?? -1);
      return next(args);
    },
    { step: 'serialize', name: 'testReadGrant' },
  );
  return sent;
}

async function runBatch(
  allocatedOutputTokens: number,
  calls: number,
  maxTokens: number,
  callHandler?: CyclesCallbackHandler,
) {
  emulator.reset();
  const probe = budget(1);
  const setup = budget(room(probe.cycles, 40 * calls, allocatedOutputTokens));
  const settled: CyclesRunSettlement[] = [];
  const handler = new CyclesCallbackHandler({ cycles: setup.cycles, onSettled: (s) => settled.push(s) });
  const client = sdkClient(emulator.url);
  const model = guardChatModel(
    new ChatBedrockConverse({ model: HAIKU, region: 'us-east-1', client, maxTokens }),
    handler,
  );
  const sent = recordSentGrants(model, client);
  const prompts = Array.from(
    { length: calls },
    (_, index) => `Question ${index}: ${'why '.repeat(index % 7)}budgets?`,
  );
  const results = await model.batch(
    prompts,
    { maxConcurrency: calls, ...(callHandler === undefined ? {} : { callbacks: [callHandler] }) },
    { returnExceptions: true },
  );
  await emulator.waitForIdle();
  return { ...setup, handler, settled, sent, results, allocated: (await setup.state()).allocated };
}

describe('parallel runs', () => {
  it('batch of 100: every request carries its own run’s grant, every run settles exactly once, no overspend', async () => {
    const run = await runBatch(20_000, 100, 600);
    const denied = run.results.filter((result) => BudgetExceededError.isInstance(result));
    expect(denied.length).toBeGreaterThan(0);
    expect(run.settled.some((settlement) => settlement.capped)).toBe(true);
    expect(run.results.length - denied.length).toBe(emulator.requests.length);
    expect(run.settled).toHaveLength(emulator.requests.length);
    expect(new Set(run.settled.map((s) => s.runId)).size).toBe(run.settled.length);
    for (const settlement of run.settled)
      expect(run.sent.get(settlement.runId)).toBe(settlement.grantedMaxOutputTokens);
    const state = await run.state();
    expect(state.reserved).toBe(0);
    expect(state.spent).toBe(emulator.requests.reduce((sum, r) => sum + priced(run.cycles, r), 0));
    expect(state.spent).toBeLessThanOrEqual(run.allocated);
  }, 30_000);

  it('property: up to 100 concurrent calls never overspend, leak a hold or settle twice', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 20_000 }),
        fc.integer({ min: 1, max: 100 }),
        fc.integer({ min: 1, max: 2000 }),
        async (outputTokens, calls, maxTokens) => {
          const run = await runBatch(outputTokens, calls, maxTokens);
          const state = await run.state();
          expect(state.spent).toBeLessThanOrEqual(run.allocated);
          expect(state.reserved).toBe(0);
          expect(run.handler.openRuns).toBe(0);
          expect(run.settled).toHaveLength(emulator.requests.length);
          expect(state.spent).toBe(emulator.requests.reduce((sum, r) => sum + priced(run.cycles, r), 0));
          for (const settlement of run.settled)
            expect(run.sent.get(settlement.runId)).toBe(settlement.grantedMaxOutputTokens);
          for (const result of run.results) {
            if (result instanceof Error) expect(BudgetExceededError.isInstance(result)).toBe(true);
          }
        },
      ),
      { numRuns: 12 },
    );
  }, 120_000);

  it('property: with a second handler on every call, neither budget is overspent and each request carries the smaller grant', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 20_000 }),
        fc.integer({ min: 0, max: 20_000 }),
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 1, max: 2000 }),
        async (modelTokens, callTokens, calls, maxTokens) => {
          const probe = budget(1);
          const other = budget(room(probe.cycles, 40 * calls, callTokens));
          const otherSettled: CyclesRunSettlement[] = [];
          const callHandler = new CyclesCallbackHandler({
            cycles: other.cycles,
            onSettled: (s) => otherSettled.push(s),
          });
          const run = await runBatch(modelTokens, calls, maxTokens, callHandler);
          const cost = emulator.requests.reduce((sum, r) => sum + priced(run.cycles, r), 0);
          for (const state of [await run.state(), await other.state()]) {
            expect(state.spent).toBeLessThanOrEqual(state.allocated);
            expect(state.reserved).toBe(0);
            expect(state.spent).toBe(cost);
          }
          expect([run.handler.openRuns, callHandler.openRuns]).toEqual([0, 0]);
          // A request went out only when both handlers held for it: both committed it. A hold whose
          // run the other handler refused was released; each run settled once per handler.
          const sentRuns = new Set(run.sent.keys());
          expect(sentRuns.size).toBe(emulator.requests.length);
          const otherGrant = new Map<string, number>();
          for (const settlements of [run.settled, otherSettled]) {
            expect(new Set(settlements.map((s) => s.runId)).size).toBe(settlements.length);
            for (const s of settlements) {
              expect(s.settlement.status).toBe(sentRuns.has(s.runId) ? 'committed' : 'released');
              if (settlements === otherSettled) otherGrant.set(s.runId, s.grantedMaxOutputTokens);
            }
          }
          for (const s of run.settled.filter((s) => sentRuns.has(s.runId))) {
            const smaller = Math.min(s.grantedMaxOutputTokens, otherGrant.get(s.runId) ?? -1);
            expect(run.sent.get(s.runId)).toBe(smaller);
          }
          for (const result of run.results) {
            if (result instanceof Error) expect(BudgetExceededError.isInstance(result)).toBe(true);
          }
        },
      ),
      { numRuns: 12 },
    );
  }, 120_000);
});
