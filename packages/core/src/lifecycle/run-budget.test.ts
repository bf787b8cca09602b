import { describe, expect, it, vi } from 'vitest';
import { createCycles } from '../cycles.ts';
import { createMemoryLedger } from '../ledger/memory-ledger.ts';
import { BudgetExceededError, InvalidConfigError, InvalidRequestError } from '../protocol/errors.ts';
import { withRunBudget } from './run-budget.ts';

const UNIT = 'USD_MICROCENTS';

function setup(runTemplate?: number) {
  const ledger = createMemoryLedger({
    sweepIntervalMs: 0,
    ledgers: [{ scope: 'tenant:acme', unit: UNIT, allocated: 10_000 }],
    templates:
      runTemplate === undefined
        ? []
        : [{ pattern: 'tenant:*/workflow:*', unit: UNIT, allocated: runTemplate }],
  });
  const cycles = createCycles({ authority: ledger, subject: { tenant: 'acme' }, heartbeat: false });
  const spend = (amount: number) => cycles.guard({ estimate: amount }, async () => amount);
  const scopes = async () => (await ledger.listLedgers()).map((state) => state.scope);
  const tenantSpent = async () => (await ledger.getLedger('tenant:acme', UNIT))?.spent;
  return { ledger, cycles, spend, scopes, tenantSpent };
}

describe('withRunBudget', () => {
  it('charges every guarded call to the run scope too, and stops them at its limit', async () => {
    const { cycles, ledger, spend, tenantSpent } = setup();
    const failure = await withRunBudget({ cycles, limit: 250, workflow: 'w1' }, async (run) => {
      expect(run).toMatchObject({ workflow: 'w1', scope: 'tenant:acme/workflow:w1' });
      await spend(100);
      await spend(100);
      expect((await ledger.getLedger(run.scope, UNIT))?.spent).toBe(200);
      await spend(100);
    }).catch((error: unknown) => error);
    expect(BudgetExceededError.isInstance(failure)).toBe(true);
    expect((failure as BudgetExceededError).details).toMatchObject({ scope: 'tenant:acme/workflow:w1' });
    expect(await tenantSpent()).toBe(200);
  });

  it('removes the run ledger when the run had a limit or a generated id, and keeps a chosen one', async () => {
    const { cycles, spend, scopes, tenantSpent } = setup(1_000);
    await withRunBudget({ cycles, limit: 500 }, () => spend(10));
    await withRunBudget({ cycles }, () => spend(20));
    await withRunBudget({ cycles, workflow: 'nightly' }, () => spend(30));
    expect(await scopes()).toEqual(['tenant:acme', 'tenant:acme/workflow:nightly']);
    expect(await tenantSpent()).toBe(60);
  });

  it('leaves a ledger still held by a hold that outlives the run, and still returns the run result', async () => {
    const { cycles, scopes } = setup(1_000);
    let open: Awaited<ReturnType<typeof cycles.reserve>> | undefined;
    const result = await withRunBudget({ cycles }, async (run) => {
      open = await cycles.reserve({ estimate: 40 });
      return run.scope;
    });
    expect(await scopes()).toEqual(['tenant:acme', result]);
    await open?.commit(40);
  });

  it('refuses a call of the run that starts after its ledger was removed, instead of leaving it uncapped', async () => {
    const { cycles, spend, scopes, tenantSpent } = setup();
    let go: () => void = () => {};
    let late: Promise<unknown> | undefined;
    await withRunBudget({ cycles, limit: 500 }, async () => {
      await spend(10);
      // Continues in the run's context after the run returned, as a stream's next step does.
      late = new Promise<void>((resolve) => {
        go = resolve;
      }).then(() => spend(20));
    });
    expect(await scopes()).toEqual(['tenant:acme']);
    go();
    const failure = await late?.catch((error: unknown) => error);
    expect(InvalidRequestError.isInstance(failure)).toBe(true);
    expect((failure as InvalidRequestError).details).toMatchObject({ field: 'until' });
    expect(await tenantSpent()).toBe(10);
  });

  it('run.until keeps the run and its cap until the work settles, then removes its ledger', async () => {
    const { cycles, spend, scopes, tenantSpent } = setup();
    let finish: () => void = () => {};
    const work = new Promise<void>((resolve) => {
      finish = resolve;
    });
    let steps: Promise<unknown> | undefined;
    const scope = await withRunBudget({ cycles, limit: 250 }, async (run) => {
      // Work the callback starts but does not wait for, as a streamed response's later steps.
      steps = (async () => {
        await work;
        await spend(100);
        await spend(100);
        return spend(100);
      })();
      run.until(steps);
      return run.scope;
    });
    expect(await scopes()).toEqual(['tenant:acme', scope]);
    finish();
    const failure = await steps?.catch((error: unknown) => error);
    // The third step is over the run's cap: the run's ledger was still there to refuse it.
    expect(BudgetExceededError.isInstance(failure)).toBe(true);
    expect((failure as BudgetExceededError).details).toMatchObject({ scope });
    await vi.waitFor(async () => expect(await scopes()).toEqual(['tenant:acme']));
    expect(await tenantSpent()).toBe(200);
  });

  it('run.until also waits for work added while the run waits', async () => {
    const { cycles, scopes } = setup();
    const gates: (() => void)[] = [];
    const gate = () => new Promise<void>((resolve) => void gates.push(resolve));
    const scope = await withRunBudget({ cycles, limit: 100 }, async (run) => {
      run.until(gate().then(() => run.until(gate())));
      return run.scope;
    });
    gates[0]?.();
    await vi.waitFor(() => expect(gates).toHaveLength(2));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(await scopes()).toEqual(['tenant:acme', scope]); // the second piece of work is still going
    gates[1]?.();
    await vi.waitFor(async () => expect(await scopes()).toEqual(['tenant:acme']));
  });

  it('refuses a bad limit, or a limit on an authority that cannot create ledgers, naming the option', async () => {
    const { cycles } = setup();
    await expect(withRunBudget({ cycles, limit: -1 }, async () => 1)).rejects.toThrow(InvalidConfigError);
    const remote = { ...cycles, authority: { reserve: cycles.authority.reserve } } as never;
    await expect(withRunBudget({ cycles: remote, limit: 10 }, async () => 1)).rejects.toMatchObject({
      code: 'INVALID_CONFIG',
      details: { field: 'limit' },
    });
  });
});
