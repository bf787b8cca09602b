import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { clampConverse } from './converse.ts';

// A Converse input with an optional maxTokens and an optional thinking budget, as callers build it.
const converseInput = fc.record(
  {
    modelId: fc.constant('anthropic.claude-3-5-haiku-20241022-v1:0'),
    messages: fc.constant([{ role: 'user', content: [{ text: 'hi' }] }]),
    inferenceConfig: fc.record(
      { maxTokens: fc.integer({ min: 1, max: 4 }), temperature: fc.double() },
      {
        requiredKeys: [],
      },
    ),
    additionalModelRequestFields: fc.record({
      thinking: fc.record({ type: fc.constant('enabled'), budget_tokens: fc.integer({ min: 1, max: 64 }) }),
    }),
  },
  { requiredKeys: ['modelId', 'messages'] },
);

describe('clampConverse', () => {
  it('sends exactly the grant, never changes the caller input, and copies only when something changes', () => {
    fc.assert(
      fc.property(
        converseInput,
        fc.integer({ min: 1, max: 4 }), // a small range: the grant often equals the request
        fc.option(fc.integer({ min: 1, max: 64 }), { nil: undefined }),
        (input, maxTokens, reasoningBudget) => {
          const before = structuredClone(input);
          const sent = clampConverse(input, maxTokens, reasoningBudget);
          expect(input).toEqual(before);
          expect(sent.inferenceConfig).toEqual({ ...input.inferenceConfig, maxTokens });
          const thinking = input.additionalModelRequestFields?.thinking;
          if (thinking !== undefined && reasoningBudget !== undefined) {
            expect(sent.additionalModelRequestFields).toEqual({
              thinking: { ...thinking, budget_tokens: reasoningBudget },
            });
          } else {
            expect(sent.additionalModelRequestFields).toEqual(input.additionalModelRequestFields);
          }
          const unchanged = reasoningBudget === undefined && input.inferenceConfig?.maxTokens === maxTokens;
          expect(sent === input).toBe(unchanged);
          if (unchanged) expect(sent).toEqual(before);
        },
      ),
      { numRuns: 500 },
    );
  });
});
