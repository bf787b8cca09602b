import { createCycles, createMemoryLedger } from '@cycles-guard/core';
import { usageCost } from '@cycles-guard/core/llm';
import { afterEach, describe, expect, it } from 'vitest';
import { runResearchAgent } from '../src/agent.ts';
import { type BedrockTarget, emulatedBedrock } from '../src/bedrock.ts';

const MODEL = 'anthropic.claude-3-5-haiku-20241022-v1:0';
const SCOPE = 'tenant:acme/agent:research';
let target: BedrockTarget | undefined;
afterEach(async () => {
  await target?.close();
  target = undefined;
});

function budget(allocated: number) {
  const ledger = createMemoryLedger({
    sweepIntervalMs: 0,
    ledgers: [{ scope: SCOPE, unit: 'USD_MICROCENTS', allocated }],
  });
  const cycles = createCycles({ authority: ledger, subject: { tenant: 'acme', agent: 'research' } });
  return { cycles, state: async () => (await ledger.getLedger(SCOPE, 'USD_MICROCENTS'))! };
}

function emulatorCost(
  cycles: ReturnType<typeof createCycles>,
  requests: NonNullable<BedrockTarget['emulator']>['requests'],
) {
  const { price } = cycles.catalog.resolve(MODEL);
  return requests.reduce((sum, request) => sum + usageCost(request, price), 0);
}

describe('research agent example', () => {
  it('answers after its tool calls, one settled reservation per model turn, spend = emulator usage priced', async () => {
    target = await emulatedBedrock(2);
    const { cycles, state } = budget(100_000_000);
    const result = await runResearchAgent({
      cycles,
      client: target.client,
      question: 'Cheapest Claude?',
      model: MODEL,
      maxTokens: 512,
    });
    expect(result.status).toBe('answered');
    expect(result.answer).toBeTruthy();
    expect(result.turns).toHaveLength(3);
    const after = await state();
    expect(after.reserved).toBe(0);
    expect(after.spent).toBe(emulatorCost(cycles, target.emulator!.requests));
  });

  it('a runaway agent is stopped by the budget with a typed error, every turn settled, never above the budget', async () => {
    target = await emulatedBedrock(Number.POSITIVE_INFINITY);
    const allocated = 1_000_000; // $0.01
    const { cycles, state } = budget(allocated);
    const result = await runResearchAgent({
      cycles,
      client: target.client,
      question: 'Cheapest Claude?',
      model: MODEL,
      maxTokens: 1024,
    });
    expect(result.status).toBe('stopped-by-budget');
    expect(result.error?.code).toBe('BUDGET_EXCEEDED');
    const requests = target.emulator!.requests;
    expect(result.turns).toHaveLength(requests.length);
    expect(result.turns.some((turn) => turn.capped)).toBe(true);
    const after = await state();
    expect(after.reserved).toBe(0);
    expect(after.spent).toBe(emulatorCost(cycles, requests));
    expect(after.spent).toBeLessThanOrEqual(allocated);
  });
});
