import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../clock.ts';
import { createCycles } from '../cycles.ts';
import type { CyclesEvent } from '../events.ts';
import { createMemoryLedger } from '../ledger/memory-ledger.ts';
import { tokenCost, usageCost } from './cost.ts';
import type { CacheTtl, ServiceTier } from './price-dimensions.ts';

// A guarded call is reserved and committed at the same dimensions: the hold covers any usage within
// the sized input and the granted output, and the commit is that usage at the call's rates.

const SONNET_46 = 'anthropic.claude-sonnet-4-6';
const GPT_OSS = 'openai.gpt-oss-120b-1:0';

function setup(allocated = 10_000_000_000) {
  const clock = new ManualClock();
  const ledger = createMemoryLedger({
    clock,
    sweepIntervalMs: 0,
    ledgers: [{ scope: 'tenant:acme', unit: 'USD_MICROCENTS', allocated }],
  });
  const events: CyclesEvent[] = [];
  const cycles = createCycles({
    authority: ledger,
    clock,
    subject: { tenant: 'acme' },
    heartbeat: false,
    onEvent: (event) => {
      events.push(event);
    },
  });
  const spent = async () => (await ledger.getLedger('tenant:acme', 'USD_MICROCENTS'))?.spent ?? -1;
  return { cycles, events, spent, ledger };
}

describe('guarded calls: dimensions at reserve and commit', () => {
  it('holds and charges a priority call at the priority rate, and records the price version', async () => {
    const { cycles, spent, ledger } = setup();
    const call = await cycles.beginLlmCall({
      model: GPT_OSS,
      inputTokens: 1000,
      maxOutputTokens: 100,
      dimensions: { serviceTier: 'priority' },
    });
    const rates = cycles.catalog.resolve(GPT_OSS, { serviceTier: 'priority' }).rates.rates;
    expect(call.reserved).toBe(
      tokenCost(1000, rates.inputPerMillion) + tokenCost(100, rates.outputPerMillion),
    );
    await call.commit({ inputTokens: 1000, outputTokens: 40 });
    expect(await spent()).toBe(
      tokenCost(1000, rates.inputPerMillion) + tokenCost(40, rates.outputPerMillion),
    );
    const detail = await ledger.getReservation(call.reservationId);
    expect(detail.committedMetadata).toEqual({
      price_version: cycles.catalog.version,
      service_tier: 'priority',
      endpoint: 'in-region',
    });
  });

  it('switches to long-context rates above 200K input, at reserve and at commit', async () => {
    const { cycles, spent } = setup();
    const model = cycles.catalog.resolve(SONNET_46);
    const long = model.rates.longContext?.rates;
    if (long === undefined) throw new Error('Sonnet 4.6 has long-context rates');
    const call = await cycles.beginLlmCall({ model: SONNET_46, inputTokens: 250_000, maxOutputTokens: 1000 });
    expect(call.reserved).toBe(
      tokenCost(250_000, Math.max(long.inputPerMillion, long.cacheWritePerMillion ?? 0)) +
        tokenCost(1000, long.outputPerMillion),
    );
    await call.commit({ inputTokens: 250_000, outputTokens: 10 });
    expect(await spent()).toBe(usageCost({ inputTokens: 250_000, outputTokens: 10 }, long));
  });

  it('prices 1-hour cache writes at the 1-hour rate unless the usage splits them', async () => {
    const { cycles, spent } = setup();
    const rates = cycles.catalog.resolve(SONNET_46, { cacheTtl: '1h' }).rates.rates;
    const call = await cycles.beginLlmCall({
      model: SONNET_46,
      inputTokens: 2000,
      maxOutputTokens: 10,
      dimensions: { cacheTtl: '1h' },
    });
    expect(call.reserved).toBe(
      tokenCost(2000, rates.cacheWrite1hPerMillion ?? 0) + tokenCost(10, rates.outputPerMillion),
    );
    await call.commit({ inputTokens: 500, outputTokens: 10, cacheWriteInputTokens: 1500 });
    const oneHour =
      tokenCost(500, rates.inputPerMillion) +
      tokenCost(10, rates.outputPerMillion) +
      tokenCost(1500, rates.cacheWrite1hPerMillion ?? 0);
    expect(await spent()).toBe(oneHour);
    const split = await cycles.beginLlmCall({
      model: SONNET_46,
      inputTokens: 2000,
      maxOutputTokens: 10,
      dimensions: { cacheTtl: '1h' },
    });
    await split.commit({
      inputTokens: 500,
      outputTokens: 10,
      cacheWriteInputTokens: 1500,
      cacheWrite1hInputTokens: 1000,
    });
    expect((await spent()) - oneHour).toBe(
      tokenCost(500, rates.inputPerMillion) +
        tokenCost(10, rates.outputPerMillion) +
        tokenCost(500, rates.cacheWritePerMillion ?? 0) +
        tokenCost(1000, rates.cacheWrite1hPerMillion ?? 0),
    );
  });

  it('names the price version in capped events', async () => {
    const { cycles, events } = setup(50_000);
    const call = await cycles.beginLlmCall({ model: GPT_OSS, inputTokens: 100, maxOutputTokens: 30_000 });
    expect(call.capped).toBe(true);
    expect(events.find((event) => event.type === 'capped')).toMatchObject({
      priceVersion: cycles.catalog.version,
    });
    await call.commit({ inputTokens: 100, outputTokens: 1 });
  });

  it('property: for any dimensions and usage within the grant, the hold covers the charge and the charge is the usage at the call rates', async () => {
    const models = [
      SONNET_46,
      `global.${SONNET_46}`,
      GPT_OSS,
      'us.anthropic.claude-haiku-4-5-20251001-v1:0',
      'qwen.qwen3-32b-v1:0',
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...models),
        fc.constantFrom<ServiceTier>('default', 'priority', 'flex', 'reserved'),
        fc.constantFrom<CacheTtl>('5m', '1h'),
        fc.integer({ min: 1, max: 400_000 }),
        fc.integer({ min: 1, max: 16_000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        async (
          id,
          serviceTier,
          cacheTtl,
          inputTokens,
          maxOutputTokens,
          usedOutput,
          cachedShare,
          writtenShare,
        ) => {
          const { cycles, spent } = setup();
          const dimensions = { serviceTier, cacheTtl };
          const call = await cycles.beginLlmCall({ model: id, inputTokens, maxOutputTokens, dimensions });
          // Split the sized input into plain, cache-read and cache-write tokens; output within the grant.
          const cacheRead = Math.floor(inputTokens * cachedShare);
          const cacheWrite = Math.floor((inputTokens - cacheRead) * writtenShare);
          const usage = {
            inputTokens: inputTokens - cacheRead - cacheWrite,
            outputTokens: Math.floor(call.maxOutputTokens * usedOutput),
            cacheReadInputTokens: cacheRead,
            cacheWriteInputTokens: cacheWrite,
          };
          await call.commit(usage);
          const model = cycles.catalog.resolve(id, dimensions);
          const long = model.rates.longContext;
          const rates =
            long !== undefined && inputTokens > long.aboveInputTokens ? long.rates : model.rates.rates;
          const charged = await spent();
          const expected = usageCost(
            cacheTtl === '1h' ? { ...usage, cacheWrite1hInputTokens: cacheWrite } : usage,
            rates,
          );
          expect(charged).toBe(expected);
          // Hold and commit each round up once: the charge never passes the hold.
          expect(charged).toBeLessThanOrEqual(call.reserved);
        },
      ),
      { numRuns: 150 },
    );
  });
});
