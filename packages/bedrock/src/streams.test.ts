import { createCycles, createMemoryLedger } from '@cycles-guard/core';
import { llmCallOutcome, StreamSettler, type TokenUsage, usageCost } from '@cycles-guard/core/llm';
import { describe, expect, it } from 'vitest';
import { guardStream } from './streams.ts';
import { feedConverseEvent } from './wire/stream-events.ts';

// guardStream over ConverseStream-shaped events and a real ledger: how each ending is charged.
// (The emulator always ends a stream with its usage; an end without it is driven from here.)

const HAIKU = 'anthropic.claude-3-5-haiku-20241022-v1:0';
const INPUT = 50;

async function setup() {
  const ledger = createMemoryLedger({
    sweepIntervalMs: 0,
    ledgers: [{ scope: 'tenant:acme', unit: 'USD_MICROCENTS', allocated: 1e12 }],
  });
  const cycles = createCycles({ authority: ledger, subject: { tenant: 'acme' }, heartbeat: false });
  const call = await cycles.beginLlmCall({ model: HAIKU, inputTokens: INPUT, maxOutputTokens: 1000 });
  const outcome = llmCallOutcome(call);
  let closed = 0;
  const guard = (events: AsyncIterable<unknown>) =>
    guardStream(
      events,
      new StreamSettler(call, { seesEveryDelta: true }),
      feedConverseEvent,
      () => closed++,
      outcome,
    );
  const cost = (usage: TokenUsage) => usageCost(usage, cycles.catalog.resolve(HAIKU).price);
  const spent = async () => (await ledger.getLedger('tenant:acme', 'USD_MICROCENTS'))?.spent;
  return { call, outcome, guard, cost, spent, closed: () => closed };
}

const delta = (text: string) => ({ contentBlockDelta: { delta: { text } } });
const TEXTS = ['Budgets ', 'are ', 'hard caps.'];
const estimated = TEXTS.reduce((sum, text) => sum + Math.ceil(Buffer.byteLength(text) / 3), 0);

async function* events(options: { usage?: TokenUsage; failAtEnd?: boolean }) {
  for (const text of TEXTS) yield delta(text);
  if (options.failAtEnd) throw new Error('modelStreamErrorException');
  if (options.usage) yield { metadata: { usage: options.usage } };
}

async function drain(stream: AsyncIterable<unknown>, stopAfter = Number.POSITIVE_INFINITY): Promise<void> {
  let read = 0;
  for await (const _ of stream) if (++read >= stopAfter) break;
}

describe('guardStream', () => {
  it('a stream that ends with usage commits that usage', async () => {
    const s = await setup();
    const usage = { inputTokens: 40, outputTokens: 6 };
    await drain(s.guard(events({ usage })));
    expect(await s.spent()).toBe(s.cost(usage));
    expect(s.outcome.charged).toBe(s.cost(usage));
    expect(s.closed()).toBe(0);
  });

  it('a stream that ends without usage commits what it saw, never $0 and below the hold', async () => {
    const s = await setup();
    await drain(s.guard(events({})));
    const seen = s.cost({ inputTokens: INPUT, outputTokens: estimated });
    expect(await s.spent()).toBe(seen);
    expect(s.outcome.charged).toBe(seen);
    expect(seen).toBeGreaterThan(0);
    expect(seen).toBeLessThan(s.call.reserved);
  });

  it('a stream that fails on its own after text commits the whole hold', async () => {
    const s = await setup();
    await expect(drain(s.guard(events({ failAtEnd: true })))).rejects.toThrow('modelStreamErrorException');
    expect(await s.spent()).toBe(s.call.reserved);
    expect(s.closed()).toBe(1);
  });

  it('a consumer that breaks commits what it saw and closes the connection once', async () => {
    const s = await setup();
    await drain(s.guard(events({ usage: { inputTokens: 40, outputTokens: 6 } })), 2);
    const seen = s.cost({
      inputTokens: INPUT,
      outputTokens:
        Math.ceil(Buffer.byteLength(TEXTS[0] as string) / 3) +
        Math.ceil(Buffer.byteLength(TEXTS[1] as string) / 3),
    });
    expect(await s.spent()).toBe(seen);
    expect(s.closed()).toBe(1);
  });
});
