import { type BedrockEmulator, startBedrockEmulator } from '@cycles-guard/bedrock-emulator';
import { BudgetExceededError } from '@cycles-guard/core';
import { ChatBedrockConverse } from '@langchain/aws';
import { afterEach, describe, expect, it } from 'vitest';
import { CyclesCallbackHandler, guardChatModel } from '../src/index.ts';
import { linkedRunCount } from '../src/linked-runs.ts';
import { budget, guardedModel, HAIKU, priced, room, sdkClient } from './helpers.ts';

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

// The run registry the capped clients read is process-wide (see linked-runs.ts): two independent
// handlers, each capping its own model on one shared SDK client, must never see each other's grants
// and must leave nothing behind.
describe('two independent handlers on one SDK client', () => {
  it('each request carries its own handler grant, each budget pays its own calls, nothing stays linked', async () => {
    emulator = await startBedrockEmulator({ port: 0 });
    const client = sdkClient(emulator.url);
    const long = budget(1e12);
    const short = budget(1e12);
    const grants = { long: [] as number[], short: [] as number[] };
    const longHandler = new CyclesCallbackHandler({
      cycles: long.cycles,
      onSettled: (settlement) => grants.long.push(settlement.grantedMaxOutputTokens),
    });
    const shortHandler = new CyclesCallbackHandler({
      cycles: short.cycles,
      onSettled: (settlement) => grants.short.push(settlement.grantedMaxOutputTokens),
    });
    // Each model asks for its own limit, so a grant applied to the other handler's request would show.
    const model = (handler: CyclesCallbackHandler, maxTokens: number) =>
      guardChatModel(
        new ChatBedrockConverse({ model: HAIKU, region: 'us-east-1', client, maxTokens }),
        handler,
      );
    const [longModel, shortModel] = [model(longHandler, 4000), model(shortHandler, 300)];
    await Promise.all(
      Array.from({ length: 4 }, (_, index) => [
        longModel.invoke(`Long question ${index}`),
        shortModel.invoke(`Short question ${index}`),
      ]).flat(),
    );
    const requests = emulator.requests;
    expect(requests).toHaveLength(8);
    expect(grants.long).toEqual([4000, 4000, 4000, 4000]);
    expect(grants.short).toEqual([300, 300, 300, 300]);
    // Every request went out with the grant of the handler that reserved for it.
    const sent = requests.map((request) => request.maxTokens ?? -1).sort((a, b) => a - b);
    expect(sent).toEqual([...grants.short, ...grants.long].sort((a, b) => a - b));
    const cost = (wanted: (maxTokens: number | undefined) => boolean) =>
      requests
        .filter((request) => wanted(request.maxTokens))
        .reduce((sum, request) => sum + priced(long.cycles, request as never), 0);
    expect(await long.state()).toMatchObject({ reserved: 0, spent: cost((max) => max === 4000) });
    expect(await short.state()).toMatchObject({ reserved: 0, spent: cost((max) => max === 300) });
    expect([longHandler.openRuns, shortHandler.openRuns, linkedRunCount()]).toEqual([0, 0, 0]);
  });
});
