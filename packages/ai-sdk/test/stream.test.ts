import { runWithBudget } from '@cycles-guard/core';
import { type LanguageModelMiddleware, streamObject, streamText } from 'ai';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { emulatorCost, HAIKU, type Setup, setup } from './helpers.ts';

let current: Setup | undefined;
afterEach(async () => {
  await current?.emulator.close();
  current = undefined;
});

const settlements = (s: Setup) => s.sequence().filter((type) => type === 'commit' || type === 'release');

describe('streamText through @ai-sdk/amazon-bedrock and the emulator', () => {
  it('caps, streams and commits the usage of the finish part before the caller sees the end', async () => {
    current = await setup(1e12, { emulator: { outputTokens: 120 } });
    const result = streamText({ model: current.model, prompt: 'Tell me a story.', maxOutputTokens: 300 });
    const text = await result.text;
    expect(text.split(' ').length).toBe(120);
    const [request] = current.emulator.requests;
    expect(request?.maxTokens).toBe(300);
    const state = await current.state();
    expect(state.spent).toBe(emulatorCost(current.cycles, HAIKU, request!));
    expect(state.reserved).toBe(0);
    expect((await result.providerMetadata)?.cycles).toMatchObject({ charged: state.spent, capped: false });
    expect(settlements(current)).toEqual(['commit']);
  });

  it('an abort mid-stream stops the Bedrock request and commits the partial usage once', async () => {
    current = await setup(1e12, {
      emulator: { outputTokens: 2000, chunkTokens: 4, latency: { perChunkMs: 5 } },
    });
    const controller = new AbortController();
    const result = streamText({
      model: current.model,
      prompt: 'Write a long essay.',
      maxOutputTokens: 2000,
      abortSignal: controller.signal,
    });
    let chunks = 0;
    for await (const _ of result.textStream) {
      if (++chunks === 5) controller.abort();
    }
    await current.emulator.waitForIdle();
    const [request] = current.emulator.requests;
    expect(request?.aborted).toBe(true);
    expect(request?.outputTokens).toBeLessThan(2000);
    expect(settlements(current)).toEqual(['commit']);
    const state = await current.state();
    expect(state.reserved).toBe(0);
    // Partial usage: estimated input plus the estimated output seen, far below the 2,000-token hold.
    const commit = current.events.find((event) => event.type === 'commit');
    expect(state.spent).toBeGreaterThan(0);
    expect(commit?.type === 'commit' && state.spent < commit.reserved).toBe(true);
  });

  it('a client disconnect (the budget context signal) aborts the Bedrock stream and settles once', async () => {
    current = await setup(1e12, {
      emulator: { outputTokens: 2000, chunkTokens: 4, latency: { perChunkMs: 5 } },
    });
    const disconnect = new AbortController();
    const model = current.model;
    const reading = runWithBudget({ signal: disconnect.signal }, async () => {
      const result = streamText({
        model,
        prompt: 'Write a long essay.',
        maxOutputTokens: 2000,
        onError: () => {},
      });
      let chunks = 0;
      for await (const _ of result.textStream) {
        if (++chunks === 3) disconnect.abort();
      }
    });
    // The reader sees the abort as an error: the request it was serving is gone.
    await expect(reading).rejects.toThrow(/aborted/);
    await current.emulator.waitForIdle();
    expect(current.emulator.requests[0]?.aborted).toBe(true);
    expect(settlements(current)).toEqual(['commit']);
    expect((await current.state()).reserved).toBe(0);
  });

  it('an exception mid-stream (no usage) is settled once and never at $0', async () => {
    current = await setup(1e12, { emulator: { outputTokens: 200 } });
    current.emulator.faults.push({ kind: 'exceptionMidStream', afterChunks: 4 });
    const errors: unknown[] = [];
    const result = streamText({
      model: current.model,
      prompt: 'Hi',
      maxOutputTokens: 200,
      onError: ({ error }) => {
        errors.push(error);
      },
    });
    await result.consumeStream();
    expect(errors.length).toBeGreaterThan(0);
    expect(settlements(current)).toEqual(['commit']);
    const state = await current.state();
    expect(state.reserved).toBe(0);
    expect(state.spent).toBeGreaterThan(0);
  });

  it('an exception before any text commits the whole hold (usage unknown)', async () => {
    current = await setup(1e12, { emulator: { outputTokens: 200 } });
    current.emulator.faults.push({ kind: 'exceptionMidStream', afterChunks: 1 });
    const result = streamText({
      model: current.model,
      prompt: 'Hi',
      maxOutputTokens: 200,
      onError: () => {},
    });
    await result.consumeStream();
    const commit = current.events.find((event) => event.type === 'commit');
    expect(commit?.type).toBe('commit');
    expect(commit?.type === 'commit' && commit.actual).toBe(commit?.type === 'commit' && commit.reserved);
    expect((await current.state()).reserved).toBe(0);
  });

  it('a dropped connection mid-stream is settled once', async () => {
    current = await setup(1e12, { emulator: { outputTokens: 200 } });
    current.emulator.faults.push({ kind: 'dropMidStream', afterChunks: 3 });
    const result = streamText({
      model: current.model,
      prompt: 'Hi',
      maxOutputTokens: 200,
      onError: () => {},
    });
    await result.consumeStream();
    expect(settlements(current)).toEqual(['commit']);
    expect((await current.state()).reserved).toBe(0);
  });

  it('a throttled stream request is released and the retry commits', async () => {
    current = await setup(1e12, { emulator: { outputTokens: 50 } });
    current.emulator.faults.push({ kind: 'throttle' });
    const result = streamText({ model: current.model, prompt: 'Hi', maxOutputTokens: 100 });
    await result.consumeStream();
    expect(current.sequence()).toEqual(['decision', 'release', 'decision', 'commit']);
    const state = await current.state();
    expect(state.spent).toBe(emulatorCost(current.cycles, HAIKU, current.emulator.requests[1]!));
  });
});

// The settler's rules, pinned here as in the Bedrock plugin's tests (core's StreamSettler decides both).
describe('streamText: what a stream that ends early is charged', () => {
  it('an exception frame after text commits the whole hold: what Bedrock generated past it is unknown', async () => {
    current = await setup(1e12, { emulator: { outputTokens: 200 } });
    current.emulator.faults.push({ kind: 'exceptionMidStream', afterChunks: 4 });
    const result = streamText({
      model: current.model,
      prompt: 'Hi',
      maxOutputTokens: 200,
      onError: () => {},
    });
    await result.consumeStream();
    expect(settlements(current)).toEqual(['commit']);
    const commit = current.events.find((event) => event.type === 'commit');
    expect(commit?.type === 'commit' && commit.actual).toBe(commit?.type === 'commit' && commit.reserved);
    expect((await current.state()).reserved).toBe(0);
  });
});

describe('streamObject', () => {
  it('is held, capped and committed like any stream', async () => {
    // The emulator writes filler words; this inner middleware streams the JSON object asked for instead.
    const jsonStream: LanguageModelMiddleware = {
      specificationVersion: 'v3',
      async wrapStream({ doStream }) {
        const result = await doStream();
        type Part = typeof result.stream extends ReadableStream<infer P> ? P : never;
        const json = '{"city":"Lisbon","days":3}';
        return {
          ...result,
          stream: result.stream.pipeThrough(
            new TransformStream<Part, Part>({
              transform(part, controller) {
                if (part.type === 'text-delta') return;
                if (part.type === 'text-end')
                  controller.enqueue({ type: 'text-delta', id: part.id, delta: json });
                controller.enqueue(part);
              },
            }),
          ),
        };
      },
    };
    current = await setup(1e12, { inner: [jsonStream], emulator: { outputTokens: 30 } });
    const result = streamObject({
      model: current.model,
      schema: z.object({ city: z.string(), days: z.number() }),
      prompt: 'Plan a trip.',
      maxOutputTokens: 300,
    });
    // streamObject settles its promises only once its stream is read.
    for await (const _ of result.partialObjectStream) {
    }
    expect(await result.object).toEqual({ city: 'Lisbon', days: 3 });
    const [request] = current.emulator.requests;
    expect(request?.maxTokens).toBe(300);
    const state = await current.state();
    expect(state.spent).toBe(emulatorCost(current.cycles, HAIKU, request!));
    expect(state.reserved).toBe(0);
  });
});
