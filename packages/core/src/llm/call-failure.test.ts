import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createCycles } from '../cycles.ts';
import { createMemoryLedger } from '../ledger/memory-ledger.ts';
import type { LlmCallFailure } from './llm-call.ts';
import { StreamSettler } from './stream-settler.ts';

// `fail()` charges unless the caller says, explicitly, that the request never reached the provider.

const MODEL = 'test.model-v1';
/** 1 µ¢ per input token, 4 µ¢ per output token, 1000 output tokens at most. */
const PRICES = {
  [MODEL]: { inputPerMillion: 1_000_000, outputPerMillion: 4_000_000, maxOutputTokens: 1000 },
};

function setup() {
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
  const spent = async () => (await ledger.getLedger('tenant:acme', 'USD_MICROCENTS'))?.spent;
  return { cycles, spent };
}

/** 100 input + 1000 output tokens: a hold of 4,100. */
const begin = (cycles: ReturnType<typeof setup>['cycles']) =>
  cycles.beginLlmCall({ model: MODEL, inputTokens: 100 });

describe('LlmCall.fail', () => {
  it('charges the whole hold for fail(err, {}) and for fail(err) from JavaScript', async () => {
    const { cycles, spent } = setup();
    const empty = await begin(cycles);
    expect(await empty.fail(new Error('boom'), {})).toMatchObject({ status: 'committed', charged: 4_100 });
    const bare = await begin(cycles);
    const untyped = bare.fail as (error: unknown) => ReturnType<typeof bare.fail>;
    expect(await untyped.call(bare, new Error('boom'))).toMatchObject({
      status: 'committed',
      charged: 4_100,
    });
    expect(await spent()).toBe(8_200);
  });

  it('charges the partial usage given without reachedProvider', async () => {
    const { cycles, spent } = setup();
    const call = await begin(cycles);
    const settlement = await call.fail(new Error('reset'), { partialUsage: { outputTokens: 10 } });
    expect(settlement).toMatchObject({ status: 'committed', charged: 140 });
    expect(await spent()).toBe(140);
  });

  it('releases only on an explicit reachedProvider: false', async () => {
    const { cycles, spent } = setup();
    const call = await begin(cycles);
    expect(await call.fail(new Error('refused'), { reachedProvider: false })).toMatchObject({
      status: 'released',
    });
    expect(await spent()).toBe(0);
  });

  it('charges for any reachedProvider value other than false (property)', async () => {
    const { cycles, spent } = setup();
    let charged = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.constant(undefined),
          fc.constant(true),
          fc.constant(0),
          fc.constant(null),
          fc.constant('no'),
          fc.constant(''),
        ),
        fc.boolean(),
        async (reachedProvider, viaAbort) => {
          const call = await begin(cycles);
          const failure = { reachedProvider } as unknown as LlmCallFailure;
          const settlement = viaAbort
            ? await call.abort(undefined, failure)
            : await call.fail(new Error('x'), failure);
          expect(settlement.status).toBe('committed');
          charged += 4_100;
        },
      ),
      { numRuns: 30 },
    );
    expect(await spent()).toBe(charged);
  });

  it('the stream settler charges on error() unless told reachedProvider: false', async () => {
    const { cycles, spent } = setup();
    const tracked = new StreamSettler(await begin(cycles));
    expect(await tracked.error(new Error('x'), {})).toMatchObject({ status: 'committed', charged: 4_100 });
    const refused = new StreamSettler(await begin(cycles));
    expect(await refused.error(new Error('x'), { reachedProvider: false })).toMatchObject({
      status: 'released',
    });
    expect(await spent()).toBe(4_100);
  });
});
