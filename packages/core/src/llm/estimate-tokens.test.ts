import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ESTIMATE_RULE,
  type EstimateInput,
  estimateInputTokens,
  MESSAGE_OVERHEAD_TOKENS,
  TOOLS_OVERHEAD_TOKENS,
  utf8ByteLength,
} from './estimate-tokens.ts';

const encoder = new TextEncoder();

/** The Bedrock emulator's count: Σ ceil(utf8Bytes / 4) over every text, plus 4 per message. */
function emulatorCount(input: EstimateInput): number {
  const texts = [
    ...(input.system ?? []),
    ...(input.messages ?? []).flatMap((m) => m.content),
    ...(input.tools ?? []),
  ];
  const textTokens = texts.reduce((sum, text) => sum + Math.ceil(encoder.encode(text).length / 4), 0);
  return textTokens + 4 * (input.messages?.length ?? 0);
}

function textCount(input: EstimateInput): number {
  return (
    (input.system?.length ?? 0) +
    (input.messages ?? []).reduce((sum, m) => sum + m.content.length, 0) +
    (input.tools?.length ?? 0)
  );
}

const anyText = fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }), fc.string());
const anyInput = (text: fc.Arbitrary<string>): fc.Arbitrary<EstimateInput> =>
  fc.record(
    {
      system: fc.array(text, { maxLength: 3 }),
      messages: fc.array(
        fc.record({ role: fc.constantFrom('user', 'assistant'), content: fc.array(text, { maxLength: 4 }) }),
        {
          maxLength: 6,
        },
      ),
      tools: fc.array(text, { maxLength: 3 }),
    },
    { requiredKeys: [] },
  );

describe('utf8ByteLength', () => {
  it('matches TextEncoder for any string, lone surrogates included (property)', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        expect(utf8ByteLength(text)).toBe(encoder.encode(text).length);
      }),
      { numRuns: 1000 },
    );
    expect(utf8ByteLength('a\u00e9\u4e2d\u{1F600}\ud800x\udc00')).toBe(1 + 2 + 3 + 4 + 3 + 1 + 3);
  });
});

describe('estimateInputTokens', () => {
  it('counts ceil(bytes / 3) per text plus per-message and tool overheads', () => {
    expect(estimateInputTokens({})).toBe(0);
    expect(estimateInputTokens('')).toBe(MESSAGE_OVERHEAD_TOKENS);
    expect(estimateInputTokens('Hello, world')).toBe(4 + MESSAGE_OVERHEAD_TOKENS);
    expect(estimateInputTokens('中文字')).toBe(3 + MESSAGE_OVERHEAD_TOKENS);
    expect(
      estimateInputTokens({
        system: ['abcdefg'],
        messages: [
          { role: 'user', content: ['hi', 'there'] },
          { role: 'assistant', content: [] },
        ],
        tools: ['{"name":"x"}'],
      }),
    ).toBe(3 + (1 + 2) + 2 * MESSAGE_OVERHEAD_TOKENS + TOOLS_OVERHEAD_TOKENS + 4);
  });

  it('treats a bare string as one user message', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        expect(estimateInputTokens(text)).toBe(
          estimateInputTokens({ messages: [{ role: 'user', content: [text] }] }),
        );
      }),
    );
  });

  it('never counts fewer tokens than the emulator, for any Unicode (property)', () => {
    fc.assert(
      fc.property(anyInput(anyText), (input) => {
        expect(estimateInputTokens(input)).toBeGreaterThanOrEqual(emulatorCount(input));
      }),
      { numRuns: 1000 },
    );
  });

  it('stays within 4/3 × emulator + ⌈2k/3⌉ (+ tool overhead), for any Unicode (property)', () => {
    fc.assert(
      fc.property(anyInput(anyText), (input) => {
        const tools = (input.tools?.length ?? 0) > 0 ? TOOLS_OVERHEAD_TOKENS : 0;
        const bound = (4 / 3) * emulatorCount(input) + Math.ceil((2 * textCount(input)) / 3) + tools;
        expect(estimateInputTokens(input)).toBeLessThanOrEqual(bound);
      }),
      { numRuns: 1000 },
    );
  });

  it('over-counts ASCII prose by at most 1.5× the emulator + 1 per text (property)', () => {
    const word = fc.string({
      unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz'),
      minLength: 1,
      maxLength: 12,
    });
    const prose = fc.array(word, { minLength: 1, maxLength: 200 }).map((words) => `${words.join(' ')}.`);
    fc.assert(
      fc.property(anyInput(prose), (withTools) => {
        const input = { ...withTools, tools: [] };
        const emulator = emulatorCount(input);
        const estimate = estimateInputTokens(input);
        expect(estimate).toBeGreaterThanOrEqual(emulator);
        expect(estimate).toBeLessThanOrEqual(1.5 * emulator + textCount(input));
      }),
    );
  });

  it('documents the rule and its bound', () => {
    expect(ESTIMATE_RULE).toContain('ceil(utf8Bytes / 3)');
    expect(ESTIMATE_RULE).toContain('4/3');
  });
});
