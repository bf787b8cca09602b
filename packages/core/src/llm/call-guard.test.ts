import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../clock.ts';
import type { CyclesUnit } from '../config.ts';
import { createCycles } from '../cycles.ts';
import type { CyclesEvent } from '../events.ts';
import { createMemoryLedger } from '../ledger/memory-ledger.ts';
import type { LedgerDefinition } from '../ledger/types.ts';
import { flakyAuthority } from '../lifecycle/__fixtures__/flaky-authority.ts';
import { AuthorityUnavailableError, BudgetExceededError, ModelNotPricedError } from '../protocol/errors.ts';
import type { Caps } from '../protocol/types.ts';
import { StreamSettler } from './stream-settler.ts';

const MODEL = 'test.model-v1';
/** 1 µ¢ per input token, 4 µ¢ per output token, 1000 output tokens at most. */
const PRICES = {
  [MODEL]: { inputPerMillion: 1_000_000, outputPerMillion: 4_000_000, maxOutputTokens: 1000 },
};

function setup(
  options: { allocated?: number; unit?: CyclesUnit; caps?: Caps; ledgers?: LedgerDefinition[] } = {},
) {
  const unit = options.unit ?? 'USD_MICROCENTS';
  const clock = new ManualClock();
  const ledger = createMemoryLedger({
    clock,
    sweepIntervalMs: 0,
    ledgers: options.ledgers ?? [
      {
        scope: 'tenant:acme',
        unit,
        allocated: options.allocated ?? 100_000,
        ...(options.caps ? { caps: options.caps } : {}),
      },
    ],
  });
  const events: CyclesEvent[] = [];
  const cycles = createCycles({
    authority: ledger,
    clock,
    unit,
    prices: PRICES,
    subject: { tenant: 'acme' },
    heartbeat: false,
    retry: { attempts: 2, baseDelayMs: 0 },
    onEvent: (event) => {
      events.push(event);
    },
  });
  const state = async (scope = 'tenant:acme') => {
    const row = await ledger.getLedger(scope, unit);
    if (row === undefined) throw new Error(`no ledger ${scope}`);
    return row;
  };
  return { ledger, cycles, events, state };
}

describe('beginLlmCall: granting', () => {
  it('grants the requested limit when the worst case fits', async () => {
    const { cycles, state } = setup();
    const call = await cycles.beginLlmCall({ model: MODEL, inputTokens: 100, maxOutputTokens: 500 });
    expect(call).toMatchObject({
      maxOutputTokens: 500,
      requestedMaxOutputTokens: 500,
      capped: false,
      reserved: 2100,
    });
    await call.commit({ inputTokens: 100, outputTokens: 300 });
    expect(await state()).toMatchObject({ spent: 1300, reserved: 0 });
  });

  it('defaults to the model maximum and clamps requests above it', async () => {
    const { cycles } = setup();
    const byDefault = await cycles.beginLlmCall({ model: MODEL, inputTokens: 10 });
    expect(byDefault.maxOutputTokens).toBe(1000);
    const tooMany = await cycles.beginLlmCall({ model: MODEL, inputTokens: 10, maxOutputTokens: 50_000 });
    expect(tooMany).toMatchObject({ requestedMaxOutputTokens: 1000, maxOutputTokens: 1000, capped: false });
  });

  it('cuts the output limit so a partial hold covers the worst case', async () => {
    const { cycles, events } = setup({ allocated: 1000 });
    const call = await cycles.beginLlmCall({ model: MODEL, inputTokens: 100, maxOutputTokens: 500 });
    // (1000 held − 100 input) / 4 per output token
    expect(call).toMatchObject({ reserved: 1000, maxOutputTokens: 225, capped: true });
    expect(events.at(-1)).toMatchObject({ type: 'capped', reason: 'budget', grantedMaxOutputTokens: 225 });
  });

  it('honours caps.maxTokens from ALLOW_WITH_CAPS', async () => {
    const { cycles, events } = setup({ caps: { maxTokens: 200 } });
    const call = await cycles.beginLlmCall({ model: MODEL, inputTokens: 100, maxOutputTokens: 500 });
    expect(call).toMatchObject({ maxOutputTokens: 200, capped: true, reserved: 2100 });
    expect(events.at(-1)).toMatchObject({ type: 'capped', reason: 'caps' });
  });

  it('refuses a call that cannot afford minOutputTokens, holding nothing', async () => {
    const { cycles, events, state } = setup({ allocated: 355 }); // 100 input + 64 × 4 = 356 needed
    await expect(
      cycles.beginLlmCall({ model: MODEL, inputTokens: 100, maxOutputTokens: 500 }),
    ).rejects.toBeInstanceOf(BudgetExceededError);
    expect(await state()).toMatchObject({ reserved: 0, spent: 0, remaining: 355 });
    expect(events).toMatchObject([{ type: 'denial', code: 'BUDGET_EXCEEDED' }]);
    const enough = await cycles.beginLlmCall({ model: MODEL, inputTokens: 99, maxOutputTokens: 500 });
    expect(enough.maxOutputTokens).toBe(64);
  });

  it('refuses an unpriced model before reserving', async () => {
    const { cycles, state } = setup();
    await expect(cycles.beginLlmCall({ model: 'acme.unknown-v1', inputTokens: 1 })).rejects.toBeInstanceOf(
      ModelNotPricedError,
    );
    expect((await state()).reserved).toBe(0);
  });

  it('estimates input from text when no exact count is given', async () => {
    const { cycles } = setup();
    const call = await cycles.beginLlmCall({ model: MODEL, input: 'x'.repeat(300), maxOutputTokens: 100 });
    expect(call).toMatchObject({ inputTokens: 104, inputTokensExact: false, reserved: 104 + 400 });
  });

  it('budgets in TOKENS', async () => {
    const { cycles, state } = setup({ unit: 'TOKENS', allocated: 1000 });
    const call = await cycles.beginLlmCall({ model: MODEL, inputTokens: 100, maxOutputTokens: 2000 });
    expect(call).toMatchObject({ unit: 'TOKENS', reserved: 1000, maxOutputTokens: 900, capped: true });
    await call.commit({ inputTokens: 100, outputTokens: 900 });
    expect(await state()).toMatchObject({ spent: 1000, reserved: 0 });
  });

  it('runs under the budget context subject', async () => {
    const { cycles, ledger } = setup();
    const call = await cycles.run({ subject: { app: 'chat' } }, () =>
      cycles.beginLlmCall({ model: MODEL, inputTokens: 1, subject: { agent: 'bot' } }),
    );
    const detail = await ledger.getReservation(call.reservationId);
    expect(detail.subject).toMatchObject({ tenant: 'acme', app: 'chat', agent: 'bot' });
    expect(detail.action).toEqual({ kind: 'llm.completion', name: MODEL });
  });
});

describe('beginLlmCall: options', () => {
  it('cuts a thinking budget so it stays below the granted output', async () => {
    const { cycles } = setup({ allocated: 1000 });
    const call = await cycles.beginLlmCall({
      model: MODEL,
      inputTokens: 100,
      maxOutputTokens: 500,
      reasoningBudgetTokens: 400,
    });
    expect(call).toMatchObject({ maxOutputTokens: 225, reasoningBudgetTokens: 225 - 64 });
  });

  it('rejects invalid token counts and a missing input', async () => {
    const { cycles } = setup();
    await expect(cycles.beginLlmCall({ model: MODEL, inputTokens: 1, maxOutputTokens: 0 })).rejects.toThrow(
      /maxOutputTokens/,
    );
    await expect(cycles.beginLlmCall({ model: MODEL, inputTokens: -1 })).rejects.toThrow(/inputTokens/);
    await expect(cycles.beginLlmCall({ model: MODEL })).rejects.toThrow(/input/);
  });

  it('aborts its signal when the caller aborts, and refuses to start once aborted', async () => {
    const { cycles, state } = setup();
    const controller = new AbortController();
    const call = await cycles.beginLlmCall({ model: MODEL, inputTokens: 1, signal: controller.signal });
    controller.abort(new Error('client gone'));
    expect(call.signal.aborted).toBe(true);
    await call.abort();
    await expect(
      cycles.beginLlmCall({ model: MODEL, inputTokens: 1, signal: controller.signal }),
    ).rejects.toThrow('client gone');
    expect((await state()).reserved).toBe(0);
  });

  it('tells onAbort listeners once, with the reason its signal carries, however late they come', async () => {
    const { cycles } = setup();
    const controller = new AbortController();
    const call = await cycles.beginLlmCall({ model: MODEL, inputTokens: 1, signal: controller.signal });
    const early: unknown[] = [];
    const removed: unknown[] = [];
    call.onAbort((reason) => early.push(reason));
    const stop = call.onAbort((reason) => removed.push(reason));
    stop();
    expect(call.aborted).toBe(false);
    const reason = new Error('client gone');
    controller.abort(reason);
    controller.abort(new Error('again'));
    expect(call.aborted).toBe(true);
    expect(early).toEqual([reason]);
    expect(removed).toEqual([]);
    // A signal first read after the abort is already aborted with the same reason.
    expect(call.signal.reason).toBe(reason);
    const late: unknown[] = [];
    call.onAbort((value) => late.push(value));
    expect(late).toEqual([reason]);
    await call.abort();
  });

  it('cuts off through onAbort and the signal alike', async () => {
    const { cycles } = setup();
    const call = await cycles.beginLlmCall({ model: MODEL, inputTokens: 100, maxOutputTokens: 500 });
    const signal = call.signal;
    const reasons: unknown[] = [];
    call.onAbort((reason) => reasons.push(reason));
    expect(call.observe({ inputTokens: 300, outputTokens: 450 })).toBe('stop');
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toBeInstanceOf(BudgetExceededError);
    expect(signal.aborted && signal.reason === reasons[0]).toBe(true);
    await call.abort();
  });

  it('runs unguarded at the requested limit when the authority is down and failMode is open', async () => {
    const events: CyclesEvent[] = [];
    const down = flakyAuthority(createMemoryLedger({ sweepIntervalMs: 0 }), {
      reserve: { times: 99, when: 'before' },
    });
    const cycles = createCycles({
      authority: down,
      prices: PRICES,
      failMode: 'open',
      subject: { tenant: 'acme' },
      retry: { attempts: 1 },
      onEvent: (event) => {
        events.push(event);
      },
    });
    const call = await cycles.beginLlmCall({ model: MODEL, inputTokens: 10, maxOutputTokens: 300 });
    expect(call).toMatchObject({ guarded: false, maxOutputTokens: 300, capped: false });
    expect(call.observe({ outputTokens: 10_000 })).toBe('continue');
    expect(await call.commit({ inputTokens: 10, outputTokens: 5 })).toMatchObject({ status: 'unguarded' });
    expect(events.map((event) => event.type)).toEqual(['fail-open']);
    const closed = createCycles({
      authority: down,
      prices: PRICES,
      subject: { tenant: 'acme' },
      retry: { attempts: 1 },
    });
    await expect(closed.beginLlmCall({ model: MODEL, inputTokens: 10 })).rejects.toBeInstanceOf(
      AuthorityUnavailableError,
    );
  });
});

describe('beginLlmCall: settlement never at $0', () => {
  const begin = async () => {
    const context = setup();
    const call = await context.cycles.beginLlmCall({ model: MODEL, inputTokens: 100, maxOutputTokens: 500 });
    return { ...context, call };
  };

  it('releases when the request never reached the provider', async () => {
    const { call, state } = await begin();
    expect(await call.fail(new Error('dns'), { reachedProvider: false })).toMatchObject({
      status: 'released',
    });
    expect(await state()).toMatchObject({ spent: 0, reserved: 0 });
  });

  it('commits the whole hold when the provider may have billed and usage is unknown', async () => {
    const { call, state } = await begin();
    await call.fail(new Error('socket hang up'), { reachedProvider: true });
    expect(await state()).toMatchObject({ spent: 2100, reserved: 0 });
  });

  it('commits partial usage when known', async () => {
    const { call, state } = await begin();
    await call.fail(new Error('throttled mid-stream'), {
      reachedProvider: true,
      partialUsage: { outputTokens: 50 },
    });
    expect((await state()).spent).toBe(100 + 200);
  });

  it('abort commits the hold, or the usage given', async () => {
    const first = await begin();
    await first.call.abort();
    expect((await first.state()).spent).toBe(2100);
    const second = await begin();
    await second.call.abort({ inputTokens: 100, outputTokens: 10 });
    expect((await second.state()).spent).toBe(140);
    const third = await begin();
    await third.call.abort(undefined, { reachedProvider: false });
    expect((await third.state()).spent).toBe(0);
  });

  it('prices cache reads and writes', async () => {
    const { cycles, state } = setup();
    const call = await cycles.beginLlmCall({ model: MODEL, inputTokens: 100, maxOutputTokens: 10 });
    await call.commit({
      inputTokens: 10,
      outputTokens: 10,
      cacheReadInputTokens: 50,
      cacheWriteInputTokens: 40,
    });
    expect((await state()).spent).toBe(10 + 40 + 50 + 40);
  });

  it('commits output above the grant at its real cost', async () => {
    const { cycles, state } = setup({ allocated: 1000 });
    const call = await cycles.beginLlmCall({ model: MODEL, inputTokens: 100, maxOutputTokens: 500 });
    const outcome = await call.commit({ inputTokens: 150, outputTokens: 225 });
    expect(outcome).toMatchObject({ status: 'committed', actual: 1050, charged: 1000 }); // ALLOW_IF_AVAILABLE caps
    expect((await state()).spent).toBe(1000);
  });

  it('settles once whichever terminal fires first', async () => {
    const { call, state } = await begin();
    const outcomes = await Promise.all([
      call.commit({ inputTokens: 100, outputTokens: 1 }),
      call.abort(),
      call.fail(new Error('late'), { reachedProvider: false }),
    ]);
    for (const outcome of outcomes) expect(outcome).toEqual(outcomes[0]);
    expect((await state()).spent).toBe(104);
  });
});

describe('beginLlmCall: observe and stream settling', () => {
  it('says stop once the next output token would pass the hold', async () => {
    const { cycles, events } = setup();
    const call = await cycles.beginLlmCall({ model: MODEL, inputTokens: 100, maxOutputTokens: 500 });
    // The real input is 300 tokens, not 100: 300 + 4n ≤ 2100 allows 450 output tokens, not 500.
    expect(call.observe({ inputTokens: 300, outputTokens: 449 })).toBe('continue');
    expect(call.signal.aborted).toBe(false);
    expect(call.observe({ outputTokens: 450 })).toBe('stop');
    expect(call.signal.aborted).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: 'cutoff', outputTokens: 450, cost: 2100, reserved: 2100 });
  });

  it('does not cut off a call that reached its own granted limit', async () => {
    const { cycles } = setup();
    const call = await cycles.beginLlmCall({ model: MODEL, inputTokens: 100, maxOutputTokens: 500 });
    expect(call.observe({ outputTokens: 500 })).toBe('continue');
  });

  it('settler: finish with usage commits it; without usage commits the hold', async () => {
    const { cycles, state } = setup();
    const first = new StreamSettler(
      await cycles.beginLlmCall({ model: MODEL, inputTokens: 100, maxOutputTokens: 500 }),
    );
    first.usage({ outputTokens: 10 });
    await first.finish({ inputTokens: 100, outputTokens: 20 });
    expect((await state()).spent).toBe(180);
    const second = new StreamSettler(
      await cycles.beginLlmCall({ model: MODEL, inputTokens: 100, maxOutputTokens: 500 }),
    );
    await second.finish();
    expect((await state()).spent).toBe(180 + 2100);
    expect(second.settled).toBe(true);
  });

  it('settler.wrap settles when the consumer breaks early', async () => {
    const { cycles, state } = setup();
    const call = await cycles.beginLlmCall({ model: MODEL, inputTokens: 100, maxOutputTokens: 500 });
    async function* provider() {
      for (let index = 1; index <= 10; index++)
        yield { text: 'x', usage: index === 10 ? { outputTokens: 10 } : undefined };
    }
    for await (const chunk of new StreamSettler(call).wrap(provider(), (chunk) => chunk.usage)) {
      if (chunk.text === 'x') break;
    }
    await call.hold.settlement;
    expect((await state()).spent).toBe(2100);
  });

  it('settler.wrap commits the final usage on completion and settles on a provider error', async () => {
    const { cycles, state } = setup();
    const ok = await cycles.beginLlmCall({ model: MODEL, inputTokens: 100, maxOutputTokens: 500 });
    async function* finished() {
      yield { usage: undefined };
      yield { usage: { inputTokens: 100, outputTokens: 5 } };
    }
    for await (const _chunk of new StreamSettler(ok).wrap(finished(), (chunk) => chunk.usage)) {
      // consume
    }
    expect((await state()).spent).toBe(120);
    const broken = await cycles.beginLlmCall({ model: MODEL, inputTokens: 100, maxOutputTokens: 500 });
    async function* failing() {
      yield { usage: undefined };
      throw new Error('stream reset');
    }
    await expect(async () => {
      for await (const _chunk of new StreamSettler(broken).wrap(failing(), (chunk) => chunk.usage)) {
        // consume
      }
    }).rejects.toThrow('stream reset');
    expect((await state()).spent).toBe(120 + 2100);
  });

  it('settler.wrap stops reading at a cutoff and charges the hold', async () => {
    const { cycles, state } = setup();
    const call = await cycles.beginLlmCall({ model: MODEL, inputTokens: 100, maxOutputTokens: 500 });
    let read = 0;
    async function* provider() {
      for (let output = 100; output <= 1000; output += 100) {
        read++;
        yield { usage: { inputTokens: 300, outputTokens: output } };
      }
    }
    for await (const _chunk of new StreamSettler(call).wrap(provider(), (chunk) => chunk.usage)) {
      // consume
    }
    expect(read).toBe(5); // 300 + 4 × 500 > 2100
    expect((await state()).spent).toBe(2100);
  });
});

describe('beginLlmCall: property', () => {
  it('never overspends any scope under concurrent calls with usage within the grant', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 500, max: 50_000 }),
        fc.integer({ min: 500, max: 50_000 }),
        fc.array(
          fc.record({
            inputTokens: fc.integer({ min: 0, max: 2000 }),
            maxOutputTokens: fc.integer({ min: 1, max: 1000 }),
            usedFraction: fc.double({ min: 0, max: 1, noNaN: true }),
          }),
          { minLength: 1, maxLength: 30 },
        ),
        async (tenantBudget, appBudget, calls) => {
          const { cycles, state } = setup({
            ledgers: [
              { scope: 'tenant:acme', unit: 'USD_MICROCENTS', allocated: tenantBudget },
              { scope: 'tenant:acme/app:chat', unit: 'USD_MICROCENTS', allocated: appBudget },
            ],
          });
          await Promise.all(
            calls.map(async (spec) => {
              let call: Awaited<ReturnType<typeof cycles.beginLlmCall>>;
              try {
                call = await cycles.beginLlmCall({ ...spec, model: MODEL, subject: { app: 'chat' } });
              } catch (error) {
                if (BudgetExceededError.isInstance(error)) return;
                throw error;
              }
              await Promise.resolve();
              const outputTokens = Math.floor(call.maxOutputTokens * spec.usedFraction);
              await call.commit({ inputTokens: spec.inputTokens, outputTokens });
            }),
          );
          for (const scope of ['tenant:acme', 'tenant:acme/app:chat']) {
            const row = await state(scope);
            expect(row.spent).toBeLessThanOrEqual(row.allocated);
            expect(row.reserved).toBe(0);
            expect(row.isOverLimit).toBe(false);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
