import { describe, expect, it } from 'vitest';
import { ManualClock } from '../clock.ts';
import { createCycles } from '../cycles.ts';
import type { CyclesEvent } from '../events.ts';
import { createMemoryLedger } from '../ledger/memory-ledger.ts';
import { currentBudget } from './budget-context.ts';

function setup(onEvent?: (event: CyclesEvent) => void) {
  const clock = new ManualClock();
  const ledger = createMemoryLedger({
    clock,
    sweepIntervalMs: 0,
    ledgers: [{ scope: 'tenant:acme', unit: 'USD_MICROCENTS', allocated: 1000 }],
  });
  const cycles = createCycles({
    authority: ledger,
    clock,
    subject: { tenant: 'acme' },
    heartbeat: false,
    ...(onEvent ? { onEvent } : {}),
  });
  const spent = async () => (await ledger.getLedger('tenant:acme', 'USD_MICROCENTS'))?.spent;
  const reserved = async () => (await ledger.getLedger('tenant:acme', 'USD_MICROCENTS'))?.reserved;
  return { cycles, ledger, spent, reserved };
}

describe('guard', () => {
  it('commits actual(result) after fn succeeds', async () => {
    const { cycles, spent } = setup();
    const result = await cycles.guard({ estimate: 300, actual: (value: number) => value }, async () => 120);
    expect(result).toBe(120);
    expect(await spent()).toBe(120);
  });

  it('commits what was held when no actual is given', async () => {
    const { cycles, spent } = setup();
    await cycles.guard({ estimate: 300 }, () => 'done');
    expect(await spent()).toBe(300);
  });

  it('releases and rethrows when fn throws', async () => {
    const { cycles, spent, reserved } = setup();
    await expect(
      cycles.guard({ estimate: 300 }, () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await spent()).toBe(0);
    expect(await reserved()).toBe(0);
  });

  it('keeps a settlement fn made itself', async () => {
    const { cycles, spent } = setup();
    await cycles.guard({ estimate: 300 }, async (hold) => {
      await hold.commit(42);
    });
    expect(await spent()).toBe(42);
  });

  it('runs fn inside a budget context for the hold', async () => {
    const { cycles } = setup();
    await cycles.guard(
      { estimate: 1, subject: { app: 'chat' }, action: { kind: 'tool', name: 'search' } },
      () => {
        const context = currentBudget();
        expect(context?.cycles).toBe(cycles);
        expect(context?.subject).toMatchObject({ tenant: 'acme', app: 'chat' });
        expect(context?.action).toEqual({ kind: 'tool', name: 'search' });
      },
    );
  });

  it('refuses to start when the signal is already aborted', async () => {
    const { cycles, reserved } = setup();
    const controller = new AbortController();
    controller.abort(new Error('client gone'));
    await expect(cycles.guard({ estimate: 1, signal: controller.signal }, () => 1)).rejects.toThrow(
      'client gone',
    );
    expect(await reserved()).toBe(0);
  });
});

describe('event hook', () => {
  it('reports decisions and commits, and a throwing or rejecting hook never breaks a call', async () => {
    const seen: string[] = [];
    const { cycles, spent } = setup((event) => {
      seen.push(event.type);
      throw new Error('hook bug');
    });
    await cycles.guard({ estimate: 300, actual: () => 10 }, () => 'ok');
    expect(seen).toEqual(['decision', 'commit']);
    expect(await spent()).toBe(10);
    const rejecting = createCycles({
      authority: setup().ledger,
      subject: { tenant: 'acme' },
      heartbeat: false,
      onEvent: async () => {
        throw new Error('async hook bug');
      },
    });
    expect(await rejecting.guard({ estimate: 1 }, () => 'still ok')).toBe('still ok');
  });
});
