import type { BedrockEmulator } from '@cycles-guard/bedrock-emulator';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CyclesRunSettlement } from '../src/index.ts';
import { guardedModel, priced, room } from './helpers.ts';

let emulator: BedrockEmulator | undefined;
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

describe('streaming', () => {
  it('.stream() sends the cut maxTokens and commits the streamed usage_metadata', async () => {
    const probe = await guardedModel(1);
    await probe.emulator.close();
    const allocated = room(probe.cycles, 60, 300);
    const setup = await guardedModel(allocated, { maxTokens: 4000 }, {}, { outputTokens: 4000 });
    emulator = setup.emulator;
    let text = '';
    for await (const chunk of await setup.model.stream('Tell me about budgets.')) text += chunk.text;
    const [request] = setup.emulator.requests;
    expect(request?.stream).toBe(true);
    expect(request?.maxTokens).toBeLessThan(4000);
    expect(request?.outputTokens).toBe(request?.maxTokens);
    expect(text.split(' ').filter(Boolean).length).toBeGreaterThan(0);
    const state = await setup.state();
    expect(state.reserved).toBe(0);
    expect(state.spent).toBe(priced(setup.cycles, request as never));
    expect(state.spent).toBeLessThanOrEqual(allocated);
  });

  it('invoke with streaming: true commits the usage of the stream', async () => {
    const setup = await guardedModel(1e12, { maxTokens: 200, streaming: true });
    emulator = setup.emulator;
    await setup.model.invoke('Tell me about budgets.');
    const [request] = setup.emulator.requests;
    expect(request?.stream).toBe(true);
    const state = await setup.state();
    expect(state.spent).toBe(priced(setup.cycles, request as never));
    expect(setup.handler.openRuns).toBe(0);
  });

  it('a consumer that breaks out of the stream settles the run once, at the hold (usage unknown: never $0)', async () => {
    const settled: CyclesRunSettlement[] = [];
    const setup = await guardedModel(
      1e12,
      { maxTokens: 400 },
      { onSettled: (s) => settled.push(s) },
      { outputTokens: 400, latency: { perChunkMs: 5 } },
    );
    emulator = setup.emulator;
    for await (const chunk of await setup.model.stream('Tell me about budgets.')) {
      if (chunk.text.length > 0) break;
    }
    await setup.emulator.waitForIdle();
    await vi.waitFor(() => expect(settled).toHaveLength(1));
    const state = await setup.state();
    expect(state.reserved).toBe(0);
    expect(settled[0]?.settlement.status).toBe('committed');
    expect(state.spent).toBe(settled[0]?.reserved);
    expect(state.spent).toBeGreaterThanOrEqual(priced(setup.cycles, setup.emulator.requests[0] as never));
    expect(setup.handler.openRuns).toBe(0);
  });
});
