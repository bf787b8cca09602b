import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createCycles } from '../cycles.ts';
import { createMemoryLedger } from '../ledger/memory-ledger.ts';
import type { TokenUsage } from './cost.ts';
import { StreamSettler } from './stream-settler.ts';

// Model-based: random streams (text deltas, reported counts, final usage) ended every way an adapter
// can end them; the ledger must show exactly what the rules in stream-settler.ts say, once.

const MODEL = 'test.model-v1';
/** 1 µ¢ per input token, 4 µ¢ per output token: cost(in, out) = in + 4·out. */
const PRICES = {
  [MODEL]: { inputPerMillion: 1_000_000, outputPerMillion: 4_000_000, maxOutputTokens: 1000 },
};
const INPUT = 100;
const cost = (input: number, output: number) => input + 4 * output;

function setup() {
  const ledger = createMemoryLedger({
    sweepIntervalMs: 0,
    ledgers: [{ scope: 'tenant:acme', unit: 'USD_MICROCENTS', allocated: 1e12 }],
  });
  const cycles = createCycles({
    authority: ledger,
    prices: PRICES,
    subject: { tenant: 'acme' },
    heartbeat: false,
  });
  const state = async () => {
    const row = await ledger.getLedger('tenant:acme', 'USD_MICROCENTS');
    if (row === undefined) throw new Error('no ledger');
    return row;
  };
  return { cycles, state };
}

type Event =
  | { kind: 'text'; text: string }
  | { kind: 'usage'; usage: Partial<TokenUsage> }
  | { kind: 'final'; usage: TokenUsage };
type Ending = 'finish' | 'finishWithUsage' | 'abort' | 'error' | 'unbilled' | 'release';

const tokens = fc.integer({ min: 0, max: 600 });
const event: fc.Arbitrary<Event> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('text' as const), text: fc.string({ unit: 'grapheme' }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('usage' as const),
      usage: fc.record({ inputTokens: tokens, outputTokens: tokens }, { requiredKeys: [] }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('final' as const),
      usage: fc.record({ inputTokens: tokens, outputTokens: tokens }),
    }),
  },
);
const ending = fc.constantFrom<Ending>('finish', 'finishWithUsage', 'abort', 'error', 'unbilled', 'release');

/** The rules, written independently of the implementation: the amount charged (released only when the call was not billed). */
function expectedCharge(
  events: Event[],
  end: Ending,
  endUsage: TokenUsage,
  seesEveryDelta: boolean,
  granted: number,
): { charged: number; read: number; released: boolean } {
  const hold = cost(INPUT, granted);
  let estimated = 0;
  let reported: Partial<TokenUsage> | undefined;
  let final: TokenUsage | undefined;
  let cutoff = false;
  let read = 0;
  for (const item of events) {
    read++;
    if (item.kind === 'text') estimated += Math.ceil(Buffer.byteLength(item.text) / 3);
    else if (item.kind === 'usage') reported = { ...reported, ...item.usage };
    else final = item.usage;
    if (final !== undefined) continue;
    const input = reported?.inputTokens ?? INPUT;
    const output = reported?.outputTokens ?? Math.min(estimated, granted);
    // The call's cutoff: past the hold, or the next token would pass it below the granted limit.
    if (cost(input, output) > hold || (cost(input, output + 1) > hold && output < granted)) {
      cutoff = true;
      break;
    }
  }
  if (end === 'unbilled' || end === 'release') return { charged: 0, read, released: true };
  if (end === 'finishWithUsage' && !cutoff) final = endUsage;
  // A billed call commits what it cost, even 0 (usage reported as 0 tokens): only an unbilled one is released.
  if (final !== undefined)
    return { charged: cost(final.inputTokens, final.outputTokens), read, released: false };
  const stopped = cutoff ? 'abort' : end;
  if (cutoff || stopped === 'error') return { charged: hold, read, released: false };
  if (reported === undefined && !seesEveryDelta && estimated === 0)
    return { charged: hold, read, released: false };
  const input = reported?.inputTokens ?? INPUT;
  const output = reported?.outputTokens ?? Math.min(estimated, granted);
  return { charged: cost(input, output), read, released: false };
}

describe('StreamSettler (model-based)', () => {
  it('charges what the rules say, exactly once, whichever terminals fire', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(event, { maxLength: 12 }),
        ending,
        fc.record({ inputTokens: tokens, outputTokens: tokens }),
        fc.boolean(),
        fc.integer({ min: 1, max: 400 }),
        ending,
        async (events, end, endUsage, seesEveryDelta, granted, secondEnd) => {
          const { cycles, state } = setup();
          const call = await cycles.beginLlmCall({
            model: MODEL,
            inputTokens: INPUT,
            maxOutputTokens: granted,
          });
          const settler = new StreamSettler(call, { seesEveryDelta });
          let read = 0;
          let stopped = false;
          for (const item of events) {
            read++;
            if (item.kind === 'text') settler.text(item.text);
            else if (item.kind === 'usage') settler.usage(item.usage);
            else settler.final(item.usage);
            if (settler.check() === 'stop') {
              stopped = true;
              break;
            }
          }
          const expected = expectedCharge(events, end, endUsage, seesEveryDelta, granted);
          const terminal = (which: Ending) => {
            // An adapter that stopped at a cutoff ends the stream itself.
            if (stopped && which !== 'unbilled' && which !== 'release') return settler.abort();
            switch (which) {
              case 'finish':
                return settler.finish();
              case 'finishWithUsage':
                return settler.finish(endUsage);
              case 'abort':
                return settler.abort();
              case 'error':
                return settler.error(new Error('stream reset'));
              case 'unbilled':
                return settler.error(new Error('throttled'), { reachedProvider: false });
              case 'release':
                return settler.release('not sent');
            }
          };
          const settlement = await terminal(end);
          const again = await terminal(secondEnd);
          expect(read).toBe(expected.read);
          expect(stopped).toBe(settler.cutoff);
          expect(again).toBe(settlement);
          const row = await state();
          expect(row.reserved).toBe(0);
          expect(row.spent).toBe(expected.charged);
          if (expected.released) expect(settlement.status).toBe('released');
          else expect(settlement).toMatchObject({ status: 'committed', charged: expected.charged });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a stream stopped before any delta commits its input alone only when the adapter sees every delta', async () => {
    const { cycles, state } = setup();
    const watched = new StreamSettler(await cycles.beginLlmCall({ model: MODEL, inputTokens: INPUT }), {
      seesEveryDelta: true,
    });
    await watched.abort();
    expect((await state()).spent).toBe(INPUT);
    const blind = new StreamSettler(await cycles.beginLlmCall({ model: MODEL, inputTokens: INPUT }));
    await blind.abort();
    expect((await state()).spent).toBe(INPUT + cost(INPUT, 1000));
  });
});
