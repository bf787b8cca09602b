import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../protocol/errors.ts';
import { type ModelPrice, maxAffordableOutputTokens, tokenCost, usageCost, usageTokens } from './cost.ts';

const MAX = Number.MAX_SAFE_INTEGER;
const safeCount = fc.oneof(fc.nat({ max: 10_000_000 }), fc.maxSafeNat());
const perMillion = fc.oneof(fc.integer({ min: 1, max: 10_000_000_000 }), fc.integer({ min: 1, max: MAX }));

function reference(tokens: number, price: number): bigint {
  const product = BigInt(tokens) * BigInt(price);
  return (product + 999_999n) / 1_000_000n;
}

function price(outputPerMillion: number, extra: Partial<ModelPrice> = {}): ModelPrice {
  return { inputPerMillion: 300_000_000, outputPerMillion, maxOutputTokens: 8192, ...extra };
}

describe('tokenCost', () => {
  it('rounds up to whole microcents', () => {
    expect(tokenCost(0, 300_000_000)).toBe(0);
    expect(tokenCost(1, 300_000_000)).toBe(300);
    expect(tokenCost(1_000_000, 300_000_000)).toBe(300_000_000);
    expect(tokenCost(1, 1)).toBe(1);
    expect(tokenCost(1_000_001, 1)).toBe(2);
    expect(tokenCost(3, 3_500_000)).toBe(11); // 10.5 → 11
  });

  it('is exact near and beyond MAX_SAFE_INTEGER products', () => {
    expect(tokenCost(MAX, 1)).toBe(Number(reference(MAX, 1)));
    expect(tokenCost(1_000_000, 9_007_199_254)).toBe(9_007_199_254);
    expect(tokenCost(9_007_199_254_740, 1_000)).toBe(9_007_199_255); // product just below MAX_SAFE
    expect(tokenCost(4_503_599_627_370_497, 2)).toBe(9_007_199_255);
  });

  it('equals the BigInt reference for any safe inputs (property)', () => {
    fc.assert(
      fc.property(safeCount, perMillion, (tokens, pricePerMillion) => {
        const expected = reference(tokens, pricePerMillion);
        fc.pre(expected <= BigInt(MAX));
        expect(tokenCost(tokens, pricePerMillion)).toBe(Number(expected));
      }),
      { numRuns: 2000 },
    );
  });

  it('rejects negative, fractional and unsafe values', () => {
    for (const [tokens, pricePerMillion] of [
      [-1, 1],
      [1.5, 1],
      [1, -1],
      [1, 0.5],
      [Number.NaN, 1],
      [MAX + 1, 1],
      [1, Number.POSITIVE_INFINITY],
    ] as const) {
      expect(() => tokenCost(tokens, pricePerMillion)).toThrow(InvalidRequestError);
    }
  });

  it('refuses a cost that is not a safe integer', () => {
    expect(() => tokenCost(MAX, MAX)).toThrow(/MAX_SAFE_INTEGER/);
  });
});

describe('usageCost', () => {
  const claude = price(1_500_000_000, {
    cacheReadPerMillion: 30_000_000,
    cacheWritePerMillion: 375_000_000,
  });

  it('sums every component at its price and rounds the total up once', () => {
    const cost = usageCost(
      { inputTokens: 1000, outputTokens: 500, cacheReadInputTokens: 2000, cacheWriteInputTokens: 100 },
      claude,
    );
    expect(cost).toBe(300_000 + 750_000 + 60_000 + 37_500);
    // 300 + 0.000003 + 300 microcents: one ceiling (601), not one per component.
    expect(usageCost({ inputTokens: 1, outputTokens: 1, cacheReadInputTokens: 1 }, price(3))).toBe(601);
    const tiny = price(1, { inputPerMillion: 1, cacheReadPerMillion: 1, cacheWritePerMillion: 1 });
    expect(
      usageCost({ inputTokens: 1, outputTokens: 1, cacheReadInputTokens: 1, cacheWriteInputTokens: 1 }, tiny),
    ).toBe(1);
  });

  it('prices cache tokens at the input price when the model has no cache price', () => {
    const noCache = price(1_500_000_000);
    expect(usageCost({ inputTokens: 0, outputTokens: 0, cacheReadInputTokens: 1000 }, noCache)).toBe(300_000);
    expect(usageCost({ inputTokens: 0, outputTokens: 0, cacheWriteInputTokens: 1000 }, noCache)).toBe(
      300_000,
    );
  });

  it('is never $0 for non-zero usage at positive prices (property)', () => {
    const usage = fc.record(
      {
        inputTokens: fc.nat({ max: 1_000_000 }),
        outputTokens: fc.nat({ max: 1_000_000 }),
        cacheReadInputTokens: fc.nat({ max: 1_000_000 }),
        cacheWriteInputTokens: fc.nat({ max: 1_000_000 }),
      },
      { requiredKeys: ['inputTokens', 'outputTokens'] },
    );
    const prices = fc.record(
      {
        inputPerMillion: fc.integer({ min: 1, max: 10_000_000_000 }),
        outputPerMillion: fc.integer({ min: 1, max: 10_000_000_000 }),
        cacheReadPerMillion: fc.integer({ min: 1, max: 10_000_000_000 }),
        cacheWritePerMillion: fc.integer({ min: 1, max: 10_000_000_000 }),
        maxOutputTokens: fc.constant(4096),
      },
      { requiredKeys: ['inputPerMillion', 'outputPerMillion', 'maxOutputTokens'] },
    );
    fc.assert(
      fc.property(usage, prices, (tokens, modelPrice) => {
        const cost = usageCost(tokens, modelPrice);
        expect(cost > 0).toBe(usageTokens(tokens) > 0);
        expect(cost).toBeGreaterThanOrEqual(tokenCost(tokens.inputTokens, modelPrice.inputPerMillion));
      }),
    );
  });

  it('rejects invalid token counts', () => {
    expect(() => usageCost({ inputTokens: -1, outputTokens: 0 }, claude)).toThrow(InvalidRequestError);
    expect(() => usageCost({ inputTokens: 0, outputTokens: 0.5 }, claude)).toThrow(InvalidRequestError);
  });
});

describe('usageTokens', () => {
  it('counts all input, cached or not, plus output', () => {
    expect(usageTokens({ inputTokens: 10, outputTokens: 5 })).toBe(15);
    expect(
      usageTokens({ inputTokens: 10, outputTokens: 5, cacheReadInputTokens: 100, cacheWriteInputTokens: 7 }),
    ).toBe(122);
  });

  it('rejects invalid counts and unsafe totals', () => {
    expect(() => usageTokens({ inputTokens: 1, outputTokens: -2 })).toThrow(/outputTokens/);
    expect(() => usageTokens({ inputTokens: MAX, outputTokens: 1 })).toThrow(InvalidRequestError);
  });
});

describe('maxAffordableOutputTokens', () => {
  it('fills the budget left after input', () => {
    // $15/M output = 1500 microcents per token.
    expect(maxAffordableOutputTokens(10_000, 1_000, price(1_500_000_000))).toBe(6);
    expect(maxAffordableOutputTokens(10_499, 1_000, price(1_500_000_000))).toBe(6);
    expect(maxAffordableOutputTokens(1_000, 1_000, price(1_500_000_000))).toBe(0);
    expect(maxAffordableOutputTokens(0, 0, price(1))).toBe(0);
    expect(maxAffordableOutputTokens(1, 0, price(1))).toBe(1_000_000);
  });

  it('returns 0 when the input alone exceeds the budget', () => {
    expect(maxAffordableOutputTokens(999, 1_000, price(1))).toBe(0);
    expect(maxAffordableOutputTokens(-5, 0, price(1))).toBe(0);
  });

  it('handles free output and huge budgets', () => {
    expect(maxAffordableOutputTokens(10, 0, price(0))).toBe(MAX);
    expect(maxAffordableOutputTokens(MAX, 0, price(1))).toBe(MAX);
    expect(maxAffordableOutputTokens(MAX, 0, price(MAX))).toBe(1_000_000);
  });

  it('is maximal: n fits and n + 1 does not (property)', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.nat({ max: 100_000_000_000 }), fc.maxSafeNat()),
        fc.oneof(fc.nat({ max: 100_000_000_000 }), fc.maxSafeNat()),
        perMillion,
        (budget, inputCost, outputPerMillion) => {
          const n = maxAffordableOutputTokens(budget, inputCost, price(outputPerMillion));
          expect(Number.isSafeInteger(n) && n >= 0).toBe(true);
          if (inputCost > budget) {
            expect(n).toBe(0);
            return;
          }
          const limit = BigInt(budget - inputCost);
          expect(reference(n, outputPerMillion) <= limit).toBe(true);
          if (n < MAX) expect(reference(n + 1, outputPerMillion) > limit).toBe(true);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('rejects invalid arguments', () => {
    expect(() => maxAffordableOutputTokens(1.5, 0, price(1))).toThrow(InvalidRequestError);
    expect(() => maxAffordableOutputTokens(10, -1, price(1))).toThrow(InvalidRequestError);
    expect(() => maxAffordableOutputTokens(10, 0, price(-1))).toThrow(InvalidRequestError);
  });
});
