import { AsyncLocalStorage } from 'node:async_hooks';
import * as api from '@opentelemetry/api';
import { AlwaysOffSampler, type Sampler } from '@opentelemetry/sdk-trace-base';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../clock.ts';
import { createCycles } from '../cycles.ts';
import type { CyclesEvent } from '../events.ts';
import { createMemoryLedger } from '../ledger/memory-ledger.ts';
import {
  AuthorityUnavailableError,
  BudgetExceededError,
  InvalidConfigError,
  InvalidRequestError,
} from '../protocol/errors.ts';
import { nextTurn, otelSdk } from './__fixtures__/otel-sdk.ts';
import { CYCLES, GEN_AI, METRICS } from './names.ts';
import type { OtelApi } from './otel-api.ts';
import { CyclesTelemetry } from './telemetry.ts';

const MODEL = 'test.model-v1';
/** 1 µ¢ per input token, 4 µ¢ per output token, 1000 output tokens at most. */
const PRICES = {
  [MODEL]: { inputPerMillion: 1_000_000, outputPerMillion: 4_000_000, maxOutputTokens: 1000 },
};
const SPAN_STATUS_ERROR = 2;

let sdk: ReturnType<typeof otelSdk>;
afterEach(async () => {
  await sdk?.shutdown();
});

function setup(allocated = 100_000, otel?: OtelApi, sampler?: Sampler) {
  sdk = otelSdk(sampler);
  const clock = new ManualClock();
  const ledger = createMemoryLedger({
    clock,
    sweepIntervalMs: 0,
    ledgers: [
      { scope: 'tenant:acme', unit: 'USD_MICROCENTS', allocated },
      { scope: 'tenant:acme/app:chat', unit: 'USD_MICROCENTS', allocated },
    ],
  });
  const events: CyclesEvent[] = [];
  const cycles = createCycles({
    authority: ledger,
    clock,
    prices: PRICES,
    subject: { tenant: 'acme', app: 'chat' },
    heartbeat: false,
    retry: { attempts: 1, baseDelayMs: 0 },
    telemetry: { api: otel ?? sdk.otel },
    onEvent: (event) => {
      events.push(event);
    },
  });
  return { ledger, cycles, events };
}

/** Epoch milliseconds of an OTel time. */
const epochMs = ([seconds, nanos]: [number, number]) => seconds * 1e3 + nanos / 1e6;

describe('telemetry: one span per guarded call', () => {
  it('records the budget outcome and GenAI attributes of a committed LLM call', async () => {
    const { cycles } = setup();
    const call = await cycles.beginLlmCall({ model: MODEL, inputTokens: 100, maxOutputTokens: 500 });
    await call.commit({ inputTokens: 100, outputTokens: 40 });
    const [span, ...others] = await sdk.spans();
    expect(others).toHaveLength(0);
    expect(span?.name).toBe(`cycles.guard ${MODEL}`);
    expect(span?.attributes).toMatchObject({
      [GEN_AI.operation]: 'chat',
      [GEN_AI.provider]: 'aws.bedrock',
      [GEN_AI.requestModel]: MODEL,
      [GEN_AI.requestMaxTokens]: 500,
      [GEN_AI.inputTokens]: 100,
      [GEN_AI.outputTokens]: 40,
      [CYCLES.scopes]: ['tenant:acme', 'tenant:acme/app:chat'],
      [CYCLES.decision]: 'ALLOW',
      [CYCLES.unit]: 'USD_MICROCENTS',
      [CYCLES.estimate]: 100 + 500 * 4,
      [CYCLES.actual]: 100 + 40 * 4,
      [CYCLES.settlement]: 'committed',
      [CYCLES.reservationId]: call.reservationId,
    });
    // Set only when they differ: cycles.reserved (from the estimate), cycles.charged (from actual),
    // cycles.max_tokens.requested (from gen_ai.request.max_tokens). Removed: cycles.partial.
    for (const removed of [CYCLES.reserved, CYCLES.charged, CYCLES.maxTokensRequested, 'cycles.partial'])
      expect(span?.attributes).not.toHaveProperty(removed);
    expect(span?.attributes[CYCLES.ledgerMs]).toBeGreaterThanOrEqual(0);
    // Back-dated to the reserve, and timed to the microsecond (not Date.now()'s milliseconds).
    const [startS = 0, startNs = 0] = span?.startTime ?? [];
    const [endS = 0, endNs = 0] = span?.endTime ?? [];
    expect((endS - startS) * 1e9 + (endNs - startNs)).toBeGreaterThan(0);
    expect(
      await sdk.sum(METRICS.spend, { [CYCLES.scope]: 'tenant:acme', [GEN_AI.requestModel]: MODEL }),
    ).toBe(260);
    expect(await sdk.sum(METRICS.liveHolds)).toBe(0);
    expect(await sdk.count(METRICS.reserveDuration)).toBe(1);
    expect(await sdk.count(METRICS.commitDuration)).toBe(1);
    expect(await sdk.count(METRICS.releaseDuration)).toBe(0);
  });

  it('marks a call cut to fit the budget, and counts asked against granted tokens', async () => {
    const { cycles } = setup(1_100);
    const call = await cycles.beginLlmCall({ model: MODEL, inputTokens: 100, maxOutputTokens: 1000 });
    expect(call.maxOutputTokens).toBe(250);
    await call.commit({ inputTokens: 100, outputTokens: 250 });
    expect((await sdk.spans())[0]?.attributes).toMatchObject({
      [CYCLES.capReason]: 'budget',
      [CYCLES.maxTokensRequested]: 1000,
      [GEN_AI.requestMaxTokens]: 250,
      [CYCLES.reserved]: 1_100,
    });
    expect(await sdk.sum(METRICS.capCuts, { [CYCLES.reason]: 'budget' })).toBe(1);
    expect(await sdk.sum(METRICS.tokensRequested)).toBe(1000);
    expect(await sdk.sum(METRICS.tokensGranted)).toBe(250);
  });

  it('parents the span under the context the hold was granted in, even when it settles elsewhere', async () => {
    const { cycles } = setup();
    const storage = new AsyncLocalStorage<api.Context>();
    const manager: api.ContextManager = {
      active: () => storage.getStore() ?? api.ROOT_CONTEXT,
      with: (context, fn, thisArg, ...args) => storage.run(context, () => fn.apply(thisArg, args)),
      bind: (_context, target) => target,
      enable() {
        return this;
      },
      disable() {
        storage.disable();
        return this;
      },
    };
    api.context.setGlobalContextManager(manager);
    try {
      // The SDK's tracer, typed structurally by core: it returns the API's Span.
      const request = sdk.otel.trace.getTracer('test').startSpan('request') as unknown as api.Span;
      const call = await api.context.with(api.trace.setSpan(api.ROOT_CONTEXT, request), () =>
        cycles.beginLlmCall({ model: MODEL, inputTokens: 10, maxOutputTokens: 10 }),
      );
      await api.context.with(api.ROOT_CONTEXT, () => call.commit({ inputTokens: 10, outputTokens: 5 }));
      request.end();
      const span = (await sdk.spans()).find((candidate) => candidate.name === `cycles.guard ${MODEL}`);
      expect(span?.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
    } finally {
      api.context.disable();
    }
  });

  it('marks a call stopped at its hold as cutoff, and still records what it cost', async () => {
    const { cycles, ledger } = setup();
    const call = await cycles.beginLlmCall({ model: MODEL, inputTokens: 100, maxOutputTokens: 10 });
    expect(call.observe({ outputTokens: 11 })).toBe('stop');
    await call.commit({ inputTokens: 100, outputTokens: 11 });
    const spent = (await ledger.getLedger('tenant:acme', 'USD_MICROCENTS'))?.spent;
    const [span] = await sdk.spans();
    expect(span?.attributes).toMatchObject({
      [CYCLES.settlement]: 'cutoff',
      [CYCLES.actual]: 100 + 11 * 4,
      [GEN_AI.outputTokens]: 11,
    });
    expect(span?.attributes[CYCLES.charged] ?? span?.attributes[CYCLES.actual]).toBe(spent);
  });

  it('records a refusal as an error span and a denial by reason', async () => {
    const { cycles } = setup(50);
    await expect(
      cycles.beginLlmCall({ model: MODEL, inputTokens: 100, maxOutputTokens: 10 }),
    ).rejects.toThrow(BudgetExceededError);
    await nextTurn();
    const [span] = await sdk.spans();
    expect(span?.status.code).toBe(SPAN_STATUS_ERROR);
    expect(span?.attributes).toMatchObject({
      [CYCLES.decision]: 'DENY',
      [CYCLES.denialCode]: 'BUDGET_EXCEEDED',
    });
    expect(await sdk.sum(METRICS.denials, { [CYCLES.reason]: 'BUDGET_EXCEEDED' })).toBe(1);
    expect(await sdk.sum(METRICS.liveHolds)).toBe(0);
  });

  it('ends a released hold as released', async () => {
    const { cycles } = setup();
    const call = await cycles.beginLlmCall({ model: MODEL, inputTokens: 10, maxOutputTokens: 10 });
    await call.fail(new Error('refused'), { reachedProvider: false });
    await nextTurn();
    expect((await sdk.spans())[0]?.attributes[CYCLES.settlement]).toBe('released');
    expect(await sdk.sum(METRICS.spend)).toBe(0);
  });

  it('spans cycles.guard too, and the application still gets every event', async () => {
    const { cycles, events } = setup();
    await cycles.guard({ estimate: 70, action: { kind: 'tool.call', name: 'search' } }, () => 'done');
    expect((await sdk.spans())[0]?.name).toBe('cycles.guard search');
    expect((await sdk.spans())[0]?.attributes).toMatchObject({
      [CYCLES.actual]: 70,
      [CYCLES.actionKind]: 'tool.call',
      [CYCLES.actionName]: 'search',
    });
    expect((await sdk.spans())[0]?.attributes).not.toHaveProperty(GEN_AI.operation);
    expect(events.map((event) => event.type)).toEqual(['decision', 'commit']);
  });

  it('spend, spans and live holds agree with the ledger over random calls (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 500, max: 20_000 }),
        fc.array(
          fc.record({
            maxOutputTokens: fc.integer({ min: 1, max: 1000 }),
            used: fc.integer({ min: 0, max: 1000 }),
            ending: fc.constantFrom('commit', 'fail', 'release'),
          }),
          { maxLength: 12 },
        ),
        async (allocated, calls) => {
          const { cycles, ledger } = setup(allocated);
          let started = 0;
          await Promise.all(
            calls.map(async ({ maxOutputTokens, used, ending }) => {
              let call: Awaited<ReturnType<typeof cycles.beginLlmCall>>;
              try {
                call = await cycles.beginLlmCall({ model: MODEL, inputTokens: 20, maxOutputTokens });
              } catch {
                return;
              }
              started++;
              if (ending === 'commit')
                await call.commit({ inputTokens: 20, outputTokens: Math.min(used, call.maxOutputTokens) });
              else if (ending === 'fail') await call.fail(new Error('dropped'));
              else await call.fail(new Error('not sent'), { reachedProvider: false });
            }),
          );
          await nextTurn();
          const spent = (await ledger.getLedger('tenant:acme', 'USD_MICROCENTS'))?.spent ?? 0;
          expect(await sdk.sum(METRICS.spend)).toBe(spent);
          expect(await sdk.sum(METRICS.liveHolds)).toBe(0);
          expect(await sdk.spans()).toHaveLength(calls.length);
          expect(await sdk.sum(METRICS.denials)).toBe(calls.length - started);
          await sdk.shutdown();
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('telemetry: spans written on the next turn', () => {
  it('writes nothing during the calls, then every span in settlement order, with its own call times', async () => {
    const { cycles } = setup();
    const calls = [];
    for (let index = 0; index < 3; index++)
      calls.push(await cycles.beginLlmCall({ model: MODEL, inputTokens: 10, maxOutputTokens: 10 }));
    const [first, second, third] = calls as [(typeof calls)[0], (typeof calls)[0], (typeof calls)[0]];
    const settledBy: number[] = [];
    // Settled in the order third, first, second, within one turn.
    await third.commit({ inputTokens: 10, outputTokens: 1 });
    await first.fail(new Error('not sent'), { reachedProvider: false });
    await second.commit({ inputTokens: 10, outputTokens: 2 });
    settledBy.push(performance.timeOrigin + performance.now());
    // The turn goes on for 30 ms: a span written late must still end when its call did.
    while (performance.timeOrigin + performance.now() < (settledBy[0] as number) + 30);
    expect(sdk.exported()).toBe(0);
    const spans = await sdk.spans();
    expect(spans.map((span) => span.attributes[CYCLES.reservationId])).toEqual(
      [third, first, second].map((call) => call.reservationId),
    );
    expect(spans.map((span) => span.attributes[CYCLES.settlement])).toEqual([
      'committed',
      'released',
      'committed',
    ]);
    for (const span of spans) {
      expect(epochMs(span.endTime)).toBeLessThanOrEqual((settledBy[0] as number) + 1);
      expect(epochMs(span.startTime)).toBeLessThan(epochMs(span.endTime));
    }
    expect(await sdk.count(METRICS.commitDuration)).toBe(2);
    expect(await sdk.count(METRICS.releaseDuration)).toBe(1);
  });

  it('close writes the spans still waiting, without a turn', async () => {
    const { cycles } = setup();
    const call = await cycles.beginLlmCall({ model: MODEL, inputTokens: 10, maxOutputTokens: 10 });
    await call.commit({ inputTokens: 10, outputTokens: 1 });
    const waiting = sdk.exported();
    await cycles.close();
    expect(waiting).toBe(0);
    expect(sdk.exported()).toBe(1);
  });

  it('drops the oldest finished calls past maxPendingSpans in one turn, counts them, and keeps spend exact', async () => {
    sdk = otelSdk();
    const ledger = createMemoryLedger({
      sweepIntervalMs: 0,
      ledgers: [{ scope: 'tenant:acme', unit: 'USD_MICROCENTS', allocated: 1_000_000 }],
    });
    const cycles = createCycles({
      authority: ledger,
      subject: { tenant: 'acme' },
      heartbeat: false,
      telemetry: { api: sdk.otel, maxPendingSpans: 2 },
    });
    await Promise.all(
      [1, 2, 3, 4, 5].map((estimate) =>
        cycles.guard({ estimate, action: { kind: 'tool.call', name: `call-${estimate}` } }, () => 'done'),
      ),
    );
    const spans = await sdk.spans();
    expect(spans.map((span) => span.attributes[CYCLES.actual])).toEqual([4, 5]);
    expect(await sdk.sum(METRICS.droppedSpans)).toBe(3);
    expect(await sdk.sum(METRICS.spend)).toBe(15);
    expect(await sdk.count(METRICS.reserveDuration)).toBe(5);
    expect(await sdk.count(METRICS.commitDuration)).toBe(2);
  });
});

describe('telemetry: never in the way', () => {
  it('a tracer that throws changes no outcome and no event', async () => {
    const broken: OtelApi = {
      trace: {
        getTracer: () => ({
          startSpan: () => {
            throw new Error('exporter down');
          },
        }),
      },
      metrics: otelSdk().otel.metrics,
      context: otelSdk().otel.context,
    };
    const { cycles, events, ledger } = setup(100_000, broken);
    const call = await cycles.beginLlmCall({ model: MODEL, inputTokens: 100, maxOutputTokens: 500 });
    await call.commit({ inputTokens: 100, outputTokens: 10 });
    expect(events.map((event) => event.type)).toEqual(['decision', 'commit']);
    expect((await ledger.getLedger('tenant:acme', 'USD_MICROCENTS'))?.spent).toBe(140);
  });

  it('times the ledger from the lifecycle, not by wrapping it (a ledger with frozen own methods works as is)', async () => {
    sdk = otelSdk();
    const inner = createMemoryLedger({
      sweepIntervalMs: 0,
      ledgers: [{ scope: 'tenant:acme', unit: 'USD_MICROCENTS', allocated: 1_000 }],
    });
    const frozen = Object.create(inner, { reserve: { value: inner.reserve.bind(inner) } });
    const cycles = createCycles({
      authority: frozen,
      subject: { tenant: 'acme' },
      heartbeat: false,
      telemetry: { api: sdk.otel },
    });
    await cycles.guard({ estimate: 10 }, () => 'done');
    expect((await sdk.spans())[0]?.attributes[CYCLES.actual]).toBe(10);
    expect(await sdk.count(METRICS.reserveDuration)).toBe(1);
  });

  it('counts the settlement outbox depth from its events', async () => {
    sdk = otelSdk();
    const telemetry = new CyclesTelemetry({
      api: sdk.otel,
      scopeLevels: 1,
      maxOpenSpans: 10,
      maxPendingSpans: 10,
    });
    const base = {
      timeMs: 0,
      subject: { tenant: 'acme' },
      action: { kind: 'llm.completion', name: MODEL },
      unit: 'USD_MICROCENTS',
      reservationId: 'r',
      operation: 'commit',
      amount: 9,
    } as const;
    telemetry.record({ ...base, type: 'settlement-queued', code: 'UNAVAILABLE', message: '', store: 'dir' });
    telemetry.record({ ...base, type: 'settlement-queued', code: 'UNAVAILABLE', message: '', store: 'dir' });
    expect(await sdk.sum(METRICS.outboxDepth)).toBe(2);
    telemetry.record({
      ...base,
      type: 'settlement-replayed',
      charged: 9,
      viaEvent: false,
      fromIntent: false,
      possibleDuplicate: false,
      ageMs: 5,
    });
    telemetry.record({ ...base, type: 'settlement-dropped', code: 'NOT_FOUND', message: '' });
    expect(await sdk.sum(METRICS.outboxDepth)).toBe(0);
    expect(await sdk.sum(METRICS.spend, { [GEN_AI.requestModel]: MODEL })).toBe(9);
  });

  it('spans a call that ran unguarded (fail-open) and a settlement that failed, with status ERROR', async () => {
    sdk = otelSdk();
    const inner = createMemoryLedger({
      sweepIntervalMs: 0,
      ledgers: [{ scope: 'tenant:acme', unit: 'USD_MICROCENTS', allocated: 1_000 }],
    });
    // Fault injection on a real ledger: the next reserve is unreachable, every commit is refused.
    let reachable = false;
    const faulty = Object.create(inner, {
      reserve: {
        value: (request: Parameters<typeof inner.reserve>[0]) =>
          reachable ? inner.reserve(request) : Promise.reject(new AuthorityUnavailableError('ledger down')),
      },
      commit: { value: () => Promise.reject(new InvalidRequestError('commit refused')) },
    });
    const cycles = createCycles({
      authority: faulty,
      subject: { tenant: 'acme' },
      heartbeat: false,
      failMode: 'open',
      retry: { attempts: 1, baseDelayMs: 0 },
      telemetry: { api: sdk.otel },
    });
    await cycles.guard({ estimate: 10 }, () => 'ran');
    reachable = true;
    const hold = await cycles.reserve({ estimate: 10 });
    await expect(hold.commit(10)).rejects.toThrow(InvalidRequestError);
    const [unguarded, failed, ...others] = await sdk.spans();
    expect(others).toHaveLength(0);
    expect(unguarded?.attributes).toMatchObject({
      [CYCLES.settlement]: 'unguarded',
      [CYCLES.denialCode]: 'AUTHORITY_UNAVAILABLE',
      [CYCLES.estimate]: 10,
    });
    expect(failed?.status).toMatchObject({ code: SPAN_STATUS_ERROR, message: 'commit refused' });
    expect(failed?.attributes).toMatchObject({
      [CYCLES.settlement]: 'failed',
      [GEN_AI.errorType]: 'INVALID_REQUEST',
      [CYCLES.decision]: 'ALLOW',
    });
    expect(await sdk.sum(METRICS.liveHolds)).toBe(0);
  });

  it('keeps at most maxOpenSpans spans of unsettled holds', async () => {
    sdk = otelSdk();
    const ledger = createMemoryLedger({
      sweepIntervalMs: 0,
      ledgers: [{ scope: 'tenant:acme', unit: 'USD_MICROCENTS', allocated: 1_000_000 }],
    });
    const cycles = createCycles({
      authority: ledger,
      subject: { tenant: 'acme' },
      heartbeat: false,
      telemetry: { api: sdk.otel, maxOpenSpans: 2 },
    });
    const holds = [];
    for (let index = 0; index < 2; index++) holds.push(await cycles.reserve({ estimate: 10 }));
    expect(await sdk.sum(METRICS.liveHolds)).toBe(2);
    for (let index = 0; index < 3; index++) await cycles.reserve({ estimate: 10 });
    expect((await sdk.spans()).map((span) => span.attributes[CYCLES.settlement])).toEqual([
      'untracked',
      'untracked',
      'untracked',
    ]);
  });

  it('times every ledger trip of a call, one histogram per operation, refusals included', async () => {
    const { cycles } = setup(1_000);
    const call = await cycles.beginLlmCall({ model: MODEL, inputTokens: 10, maxOutputTokens: 10 });
    await call.fail(new Error('not sent'), { reachedProvider: false });
    await expect(cycles.guard({ estimate: 5_000 }, () => 'never')).rejects.toThrow(BudgetExceededError);
    await cycles.guard({ estimate: 5 }, () => 'done');
    expect(await sdk.count(METRICS.reserveDuration)).toBe(3);
    expect(await sdk.count(METRICS.releaseDuration)).toBe(1);
    expect(await sdk.count(METRICS.commitDuration)).toBe(1);
    for (const name of [METRICS.reserveDuration, METRICS.releaseDuration, METRICS.commitDuration]) {
      const [point, ...others] = await sdk.points(name);
      expect(others).toHaveLength(0);
      expect(point?.attributes).toEqual({});
      expect(typeof point?.value === 'number' ? -1 : point?.value.min).toBeGreaterThanOrEqual(0);
    }
  });

  it('builds nothing for spans the sampler drops, and still counts spend, tokens and live holds', async () => {
    const { cycles, ledger } = setup(100_000, undefined, new AlwaysOffSampler());
    const held = await cycles.beginLlmCall({ model: MODEL, inputTokens: 100, maxOutputTokens: 500 });
    expect(await sdk.sum(METRICS.liveHolds)).toBe(1);
    await held.commit({ inputTokens: 100, outputTokens: 40 });
    await cycles.guard({ estimate: 70, action: { kind: 'tool.call', name: 'search' } }, () => 'done');
    expect(await sdk.spans()).toHaveLength(0);
    const spent = (await ledger.getLedger('tenant:acme', 'USD_MICROCENTS'))?.spent;
    expect(await sdk.sum(METRICS.spend)).toBe(spent);
    expect(await sdk.sum(METRICS.tokensRequested, { [GEN_AI.requestModel]: MODEL })).toBe(500);
    expect(await sdk.sum(METRICS.liveHolds)).toBe(0);
  });

  it('refuses bad options naming the field', () => {
    const attempt = (telemetry: unknown) => () =>
      createCycles({ telemetry: telemetry as never, ledgers: [], heartbeat: false });
    expect(attempt({ scopeLevels: 0 })).toThrow(InvalidConfigError);
    expect(attempt({ scopeLevels: 0 })).toThrow(/telemetry\.scopeLevels must be an integer from 1 to 16/);
    expect(attempt({ maxOpenSpans: 1.5 })).toThrow(/telemetry\.maxOpenSpans/);
    expect(attempt({ maxPendingSpans: 0 })).toThrow(
      /telemetry\.maxPendingSpans must be an integer from 1 to 1000000/,
    );
    expect(attempt({ api: {} })).toThrow(/telemetry\.api is not the @opentelemetry\/api module/);
    expect(attempt('yes')).toThrow(/telemetry must be true, false or an options object/);
  });
});
