import { startBedrockEmulator } from '@cycles-guard/bedrock-emulator';
import { BudgetExceededError } from '@cycles-guard/core';
import { generateText, streamText } from 'ai';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { budget, emulatorSpend, guardedModel, HAIKU } from './helpers.ts';

/** One guarded call; resolves to 'denied' on a budget denial, rethrows anything else. */
async function call(model: ReturnType<typeof guardedModel>, stream: boolean, maxOutputTokens: number) {
  const prompt = 'Summarise the budget report for the quarter. '.repeat(4);
  try {
    if (!stream) {
      await generateText({ model, prompt, maxOutputTokens, maxRetries: 0 });
      return 'allowed';
    }
    let failure: unknown;
    const result = streamText({
      model,
      prompt,
      maxOutputTokens,
      maxRetries: 0,
      onError: ({ error }) => {
        failure = error;
      },
    });
    await result.consumeStream();
    if (failure !== undefined) throw failure;
    return 'allowed';
  } catch (error) {
    if (BudgetExceededError.isInstance(error)) return 'denied';
    throw error;
  }
}

describe('concurrency', () => {
  it('never overspends: parallel generate and stream calls on a small budget (property)', async () => {
    const emulator = await startBedrockEmulator({ port: 0 });
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.record({ stream: fc.boolean(), maxOutputTokens: fc.integer({ min: 64, max: 3000 }) }), {
            minLength: 5,
            maxLength: 40,
          }),
          fc.integer({ min: 30_000, max: 3_000_000 }),
          async (calls, allocated) => {
            emulator.reset();
            const b = budget(allocated);
            const model = guardedModel(emulator.url, HAIKU, { cycles: b.cycles });
            const outcomes = await Promise.all(calls.map((c) => call(model, c.stream, c.maxOutputTokens)));
            await emulator.waitForIdle();
            const state = await b.state();
            expect(state.spent).toBeLessThanOrEqual(allocated);
            expect(state.reserved).toBe(0);
            // Every call that reached Bedrock was charged exactly its emulator-reported cost, once.
            expect(state.spent).toBe(emulatorSpend(b.cycles, HAIKU, emulator));
            const answered = emulator.requests.filter((request) => request.status === 200).length;
            expect(b.sequence().filter((type) => type === 'commit')).toHaveLength(answered);
            expect(outcomes.filter((outcome) => outcome === 'allowed')).toHaveLength(answered);
          },
        ),
        { numRuns: 12 },
      );
    } finally {
      await emulator.close();
    }
  });

  it('aborts at random moments never leak a hold: every hold settles exactly once (property)', async () => {
    const emulator = await startBedrockEmulator({ port: 0, chunkTokens: 4, latency: { perChunkMs: 1 } });
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.record({
              stream: fc.boolean(),
              maxOutputTokens: fc.integer({ min: 64, max: 2000 }),
              abortAfterMs: fc.option(fc.integer({ min: 0, max: 40 }), { nil: undefined }),
            }),
            { minLength: 5, maxLength: 25 },
          ),
          fc.integer({ min: 30_000, max: 2_000_000 }),
          async (calls, allocated) => {
            emulator.reset();
            const b = budget(allocated);
            const model = guardedModel(emulator.url, HAIKU, { cycles: b.cycles });
            await Promise.all(
              calls.map(async (c) => {
                const abortSignal =
                  c.abortAfterMs === undefined ? undefined : AbortSignal.timeout(c.abortAfterMs);
                const options = {
                  model,
                  prompt: 'Report.',
                  maxOutputTokens: c.maxOutputTokens,
                  maxRetries: 0,
                };
                if (c.stream) {
                  // consumeStream swallows the stream's errors (they go to onError).
                  await streamText({ ...options, abortSignal, onError: () => {} }).consumeStream();
                } else await generateText({ ...options, abortSignal }).catch(() => {});
              }),
            );
            await emulator.waitForIdle();
            // A settlement may still be in flight when an aborted call returns: wait for the ledger.
            await vi.waitFor(async () => expect((await b.state()).reserved).toBe(0), { timeout: 5_000 });
            const state = await b.state();
            expect(state.spent).toBeLessThanOrEqual(allocated);
            const sequence = b.sequence();
            const holds = sequence.filter((type) => type === 'decision').length;
            const settled = sequence.filter((type) => type === 'commit' || type === 'release').length;
            expect(settled).toBe(holds);
          },
        ),
        { numRuns: 10 },
      );
    } finally {
      await emulator.close();
    }
  });

  it('100 concurrent streams on a small budget never overspend and leave nothing held', async () => {
    const emulator = await startBedrockEmulator({ port: 0, outputTokens: 300 });
    try {
      // $0.025: a 1,000-token Haiku hold is about $0.004, so the simultaneous holds exhaust it at once:
      // a few full holds, then partial (capped) ones, then denials.
      const allocated = 2_500_000;
      const b = budget(allocated);
      const model = guardedModel(emulator.url, HAIKU, { cycles: b.cycles });
      const outcomes = await Promise.all(Array.from({ length: 100 }, () => call(model, true, 1000)));
      await emulator.waitForIdle();
      const state = await b.state();
      expect(state.spent).toBeLessThanOrEqual(allocated);
      expect(state.reserved).toBe(0);
      expect(state.spent).toBe(emulatorSpend(b.cycles, HAIKU, emulator));
      const allowed = outcomes.filter((outcome) => outcome === 'allowed').length;
      expect(allowed).toBeGreaterThan(3);
      expect(allowed).toBeLessThan(100);
      expect(b.events.some((event) => event.type === 'capped')).toBe(true);
    } finally {
      await emulator.close();
    }
  });
});
