import type { BedrockEmulator } from '@cycles-guard/bedrock-emulator';
import { InvalidRequestError, runWithBudget } from '@cycles-guard/core';
import { ChatBedrockConverse } from '@langchain/aws';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CyclesRunSettlement } from '../src/index.ts';
import { guardedModel, HAIKU } from './helpers.ts';

let emulator: BedrockEmulator | undefined;
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

async function withSettlements(fields: ConstructorParameters<typeof ChatBedrockConverse>[0] = {}) {
  const settled: CyclesRunSettlement[] = [];
  const setup = await guardedModel(
    1e12,
    { maxTokens: 300, ...fields },
    { onSettled: (s) => settled.push(s) },
  );
  emulator = setup.emulator;
  return { ...setup, settled };
}

describe('errors and aborts settle exactly once', () => {
  it('a throttled request (429, not billed) is released', async () => {
    const setup = await withSettlements();
    setup.emulator.faults.push({ kind: 'throttle' });
    await expect(setup.model.invoke('Hi')).rejects.toThrow(/Too many requests/);
    expect(setup.settled.map((s) => s.settlement.status)).toEqual(['released']);
    expect((await setup.state()).spent).toBe(0);
    expect((await setup.state()).reserved).toBe(0);
  });

  it('a 500 after the request reached Bedrock commits the whole hold (never $0)', async () => {
    const setup = await withSettlements();
    setup.emulator.faults.push({ kind: 'internal' });
    await expect(setup.model.invoke('Hi')).rejects.toThrow();
    expect(setup.settled).toHaveLength(1);
    const state = await setup.state();
    expect(state.spent).toBe(setup.settled[0]?.reserved);
    expect(state.reserved).toBe(0);
  });

  it('a connection dropped after the request was sent commits the whole hold (never $0)', async () => {
    const setup = await withSettlements();
    setup.emulator.faults.push({ kind: 'resetAfterRequest', times: Number.POSITIVE_INFINITY });
    await expect(setup.model.invoke('Hi')).rejects.toThrow();
    expect(setup.settled).toHaveLength(1);
    const state = await setup.state();
    expect(state.spent).toBe(setup.settled[0]?.reserved);
    expect(state.reserved).toBe(0);
  });

  it('an exception mid-stream commits the hold once (usage never arrived)', async () => {
    const setup = await withSettlements();
    setup.emulator.faults.push({ kind: 'exceptionMidStream', afterChunks: 3 });
    const read = async () => {
      for await (const _chunk of await setup.model.stream('Hi')) {
        // read to the error
      }
    };
    await expect(read()).rejects.toThrow();
    expect(setup.settled).toHaveLength(1);
    const state = await setup.state();
    expect(state.spent).toBe(setup.settled[0]?.reserved);
    expect(state.reserved).toBe(0);
    expect(setup.handler.openRuns).toBe(0);
  });

  it('a signal aborted before the call refuses it: nothing sent, nothing held', async () => {
    const setup = await withSettlements();
    await expect(setup.model.invoke('Hi', { signal: AbortSignal.abort() })).rejects.toThrow();
    expect(setup.emulator.requests).toHaveLength(0);
    expect(setup.settled).toHaveLength(0);
    expect((await setup.state()).reserved).toBe(0);
    expect(setup.handler.openRuns).toBe(0);
  });

  it('an abort while the request is in flight commits the hold once', async () => {
    const setup = await withSettlements();
    setup.emulator.latency.firstByteMs = 200;
    const controller = new AbortController();
    const pending = setup.model.invoke('Hi', { signal: controller.signal });
    await vi.waitFor(() => expect(setup.emulator.requests).toHaveLength(1));
    controller.abort();
    await expect(pending).rejects.toThrow();
    await vi.waitFor(() => expect(setup.settled).toHaveLength(1));
    const state = await setup.state();
    expect(state.spent).toBe(setup.settled[0]?.reserved);
    expect(state.reserved).toBe(0);
  });

  it('a capped client refuses a Converse call no reservation covers, before it leaves', async () => {
    const setup = await withSettlements();
    const unguarded = new ChatBedrockConverse({
      model: HAIKU,
      region: 'us-east-1',
      client: setup.model.client,
    });
    const failure = await unguarded.invoke('Hi').catch((error: unknown) => error);
    expect(InvalidRequestError.isInstance(failure)).toBe(true);
    expect(String((failure as Error).message)).toMatch(/callbacks: \[handler\]/);
    expect(setup.emulator.requests).toHaveLength(0);
  });

  it('keeps user requestMetadata and never sends the link key', async () => {
    const setup = await withSettlements();
    await setup.model.invoke('Hi', { requestMetadata: { team: 'search' } });
    const body = setup.emulator.requests[0]?.body as { requestMetadata?: Record<string, string> };
    expect(body.requestMetadata).toEqual({ team: 'search' });
    await setup.model.invoke('Hi');
    const second = setup.emulator.requests[1]?.body as { requestMetadata?: unknown } | undefined;
    expect(second).toBeDefined();
    expect(second?.requestMetadata).toBeUndefined();
  });

  it('one generate() with several prompts is refused before sending (the cap cannot tell them apart)', async () => {
    const setup = await withSettlements();
    const failure = await setup.model
      .generate([[{ role: 'user', content: 'a' } as never], [{ role: 'user', content: 'b' } as never]])
      .catch((error: unknown) => error);
    expect(InvalidRequestError.isInstance(failure)).toBe(true);
    await vi.waitFor(async () => expect((await setup.state()).reserved).toBe(0));
    expect(setup.emulator.requests).toHaveLength(0);
    expect(setup.handler.openRuns).toBe(0);
  });
});

describe('budget context', () => {
  it('subject and abort signal come from runWithBudget: an abort there cancels the request in flight', async () => {
    const setup = await withSettlements();
    setup.emulator.latency.firstByteMs = 300;
    const controller = new AbortController();
    const pending = runWithBudget({ cycles: setup.cycles, signal: controller.signal }, () =>
      setup.model.invoke('Hi'),
    );
    await vi.waitFor(() => expect(setup.emulator.requests).toHaveLength(1));
    controller.abort();
    await expect(pending).rejects.toThrow();
    await setup.emulator.waitForIdle();
    expect(setup.emulator.requests[0]?.aborted).toBe(true);
    await vi.waitFor(() => expect(setup.settled).toHaveLength(1));
    const state = await setup.state();
    expect(state.spent).toBe(setup.settled[0]?.reserved);
    expect(state.reserved).toBe(0);
  });
});
