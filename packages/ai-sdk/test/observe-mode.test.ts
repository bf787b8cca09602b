import { type BedrockEmulator, startBedrockEmulator } from '@cycles-guard/bedrock-emulator';
import { type CyclesEvent, createCycles, createMemoryLedger } from '@cycles-guard/core';
import { generateText, streamText } from 'ai';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { emulatorSpend, guardedModel, HAIKU, SCOPE } from './helpers.ts';

// Observe mode through the AI SDK (createCycles({ mode: 'observe' })): the middleware is unchanged;
// core evaluates every call, refuses and caps nothing, and reports what enforcement would have done.

let emulator: BedrockEmulator | undefined;
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

async function observing(allocated: number) {
  emulator = await startBedrockEmulator({ port: 0, outputTokens: 1_000 });
  const ledger = createMemoryLedger({
    sweepIntervalMs: 0,
    ledgers: [{ scope: SCOPE, unit: 'USD_MICROCENTS', allocated }],
  });
  const events: CyclesEvent[] = [];
  const cycles = createCycles({
    mode: 'observe',
    authority: ledger,
    subject: { tenant: 'acme' },
    onEvent: (event) => {
      events.push(event);
    },
  });
  const model = guardedModel(emulator.url, HAIKU, { cycles });
  const observed = () =>
    events.filter((event): event is Extract<CyclesEvent, { type: 'observed' }> => event.type === 'observed');
  const spent = async () => (await ledger.getLedger(SCOPE, 'USD_MICROCENTS'))!.spent;
  return { emulator, cycles, model, observed, spent, ledger };
}

describe('observe mode through the AI SDK', () => {
  it('generateText: a call the budget would refuse runs with its own limit and is reported', async () => {
    const { emulator, cycles, model, observed, spent } = await observing(10);
    const result = await generateText({ model, prompt: 'Write a long essay.', maxOutputTokens: 4_000 });
    expect(result.text.length).toBeGreaterThan(0);
    expect(emulator.requests[0]?.maxTokens).toBe(4_000); // not cut to the budget
    expect(observed()).toMatchObject([
      {
        wouldDeny: true,
        reasonCode: 'BUDGET_EXCEEDED',
        denyDetail: { blockedByScope: SCOPE, budgetRemaining: 10 },
      },
    ]);
    // The real cost is recorded, capped at what the budget had left.
    expect(emulatorSpend(cycles, HAIKU, emulator)).toBeGreaterThan(10);
    await vi.waitFor(async () => expect(await spent()).toBe(10));
  });

  it('streamText: never cut off mid-stream, the whole answer arrives and its cost is recorded', async () => {
    const { emulator, cycles, model, observed, spent, ledger } = await observing(1e12);
    const stream = streamText({ model, prompt: 'Stream an essay.', maxOutputTokens: 1_000 });
    const text = await stream.text;
    expect(text.length).toBeGreaterThan(0);
    expect(emulator.requests[0]?.outputTokens).toBe(1_000);
    expect(observed()).toMatchObject([{ wouldDeny: false, decision: 'ALLOW' }]);
    await vi.waitFor(async () => expect(await spent()).toBe(emulatorSpend(cycles, HAIKU, emulator)));
    expect((await ledger.getLedger(SCOPE, 'USD_MICROCENTS'))!.reserved).toBe(0);
  });
});
