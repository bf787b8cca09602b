import type { BedrockEmulator } from '@cycles-guard/bedrock-emulator';
import { BudgetExceededError } from '@cycles-guard/core';
import { afterEach, describe, expect, it } from 'vitest';
import { CyclesCallbackHandler } from '../src/index.ts';
import { budget, guardedModel, priced, room } from './helpers.ts';

let emulator: BedrockEmulator | undefined;
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

// A model guarded by its own handler can also get a handler from the call or a parent chain
// (`agent.invoke(input, { callbacks: [handler] })`): every handler on the run holds for it, and the
// strictest wins.
describe('several handlers on one model call', () => {
  it('a denial by a handler passed with the call stops the request of a model guarded by another', async () => {
    const setup = await guardedModel(1e12, { maxTokens: 500 });
    emulator = setup.emulator;
    const spent = budget(10);
    const caller = new CyclesCallbackHandler({ cycles: spent.cycles });
    await expect(setup.model.invoke('Hi', { callbacks: [caller] })).rejects.toBeInstanceOf(
      BudgetExceededError,
    );
    expect(setup.emulator.requests).toHaveLength(0);
    expect(await setup.state()).toMatchObject({ reserved: 0, spent: 0 });
    expect(await spent.state()).toMatchObject({ reserved: 0, spent: 0 });
    expect([setup.handler.openRuns, caller.openRuns]).toEqual([0, 0]);
  });

  it('the request carries the smallest grant, and every handler commits the same usage', async () => {
    const setup = await guardedModel(1e12, { maxTokens: 4000 });
    emulator = setup.emulator;
    const tight = budget(room(setup.cycles, 60, 300));
    const granted: number[] = [];
    const caller = new CyclesCallbackHandler({
      cycles: tight.cycles,
      onSettled: (settlement) => granted.push(settlement.grantedMaxOutputTokens),
    });
    await setup.model.invoke('Tell me about budgets.', { callbacks: [caller] });
    const [request] = setup.emulator.requests;
    expect(setup.emulator.requests).toHaveLength(1);
    expect(granted[0]).toBeLessThan(4000);
    expect(request?.maxTokens).toBe(granted[0]);
    const cost = priced(setup.cycles, request as never);
    expect(await setup.state()).toMatchObject({ reserved: 0, spent: cost });
    expect(await tight.state()).toMatchObject({ reserved: 0, spent: cost });
    expect([setup.handler.openRuns, caller.openRuns]).toEqual([0, 0]);
  });

  it('a stream that fails after Bedrock answered is charged by every handler, not released by one', async () => {
    const setup = await guardedModel(1e12, { maxTokens: 500 });
    emulator = setup.emulator;
    setup.emulator.faults.push({ kind: 'exceptionMidStream', afterChunks: 3 });
    const other = budget(1e12);
    const caller = new CyclesCallbackHandler({ cycles: other.cycles });
    const failure = await (async () => {
      for await (const _chunk of await setup.model.stream('Hi', { callbacks: [caller] })) {
        // drained to reach the fault
      }
    })().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(Error);
    const [mine, theirs] = [await setup.state(), await other.state()];
    expect(mine.reserved).toBe(0);
    expect(mine.spent).toBeGreaterThan(0);
    expect(theirs).toMatchObject({ reserved: 0, spent: mine.spent });
  });
});
