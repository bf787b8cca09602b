import { describe, expect, it } from 'vitest';
import { createCycles } from '../cycles.ts';
import { createMemoryLedger } from '../ledger/memory-ledger.ts';
import { InvalidRequestError } from '../protocol/errors.ts';
import type { LlmCallOptions } from './llm-call.ts';

// Wrong-typed options from JavaScript callers are typed INVALID_REQUEST errors naming the field,
// thrown before any hold is taken.

const MODEL = 'test.model-v1';
const PRICES = {
  [MODEL]: { inputPerMillion: 1_000_000, outputPerMillion: 4_000_000, maxOutputTokens: 1000 },
};

const CASES: [string, unknown, string][] = [
  ['a number model', { model: 123, input: 'hi' }, 'model'],
  ['a missing model', { input: 'hi' }, 'model'],
  ['an empty model', { model: ' ', input: 'hi' }, 'model'],
  ['a number input', { model: MODEL, input: 5 }, 'input'],
  [
    'string message content',
    { model: MODEL, input: { messages: [{ role: 'user', content: 'hi' }] } },
    'input.messages[0].content',
  ],
  [
    'a number in message content',
    { model: MODEL, input: { messages: [{ role: 'user', content: ['a', 5] }] } },
    'input.messages[0].content[1]',
  ],
  ['a null message', { model: MODEL, input: { messages: [null] } }, 'input.messages[0]'],
  [
    'a number role',
    { model: MODEL, input: { messages: [{ role: 1, content: [] }] } },
    'input.messages[0].role',
  ],
  ['messages not an array', { model: MODEL, input: { messages: {} } }, 'input.messages'],
  ['a number system text', { model: MODEL, input: { system: [1] } }, 'input.system[0]'],
  ['tools not an array', { model: MODEL, input: { tools: 'x' } }, 'input.tools'],
];

describe('beginLlmCall input checks', () => {
  it.each(CASES)(
    'refuses %s with INVALID_REQUEST naming the field, holding nothing',
    async (_name, options, field) => {
      const ledger = createMemoryLedger({
        sweepIntervalMs: 0,
        ledgers: [{ scope: 'tenant:acme', unit: 'USD_MICROCENTS', allocated: 1_000_000 }],
      });
      const cycles = createCycles({
        authority: ledger,
        prices: PRICES,
        subject: { tenant: 'acme' },
        heartbeat: false,
      });
      const error = await cycles.beginLlmCall(options as LlmCallOptions).then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
      expect(InvalidRequestError.isInstance(error)).toBe(true);
      expect(error).toMatchObject({ code: 'INVALID_REQUEST', details: { field } });
      expect(await ledger.getLedger('tenant:acme', 'USD_MICROCENTS')).toMatchObject({
        reserved: 0,
        spent: 0,
      });
      expect((await ledger.listReservations({ tenant: 'acme' })).reservations).toHaveLength(0);
    },
  );

  it('accepts a well-formed structured input', async () => {
    const ledger = createMemoryLedger({
      sweepIntervalMs: 0,
      ledgers: [{ scope: 'tenant:acme', unit: 'USD_MICROCENTS', allocated: 1_000_000 }],
    });
    const cycles = createCycles({
      authority: ledger,
      prices: PRICES,
      subject: { tenant: 'acme' },
      heartbeat: false,
    });
    const call = await cycles.beginLlmCall({
      model: MODEL,
      input: { system: ['be brief'], messages: [{ role: 'user', content: ['hi'] }], tools: ['{}'] },
    });
    expect(call.reserved).toBeGreaterThan(0);
    await call.fail(new Error('not sent'), { reachedProvider: false });
  });
});
