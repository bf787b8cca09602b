import { describe, expect, it, vi } from 'vitest';
import { currentBudget, mergeSubjects, runWithBudget } from './budget-context.ts';

describe('budget context', () => {
  it('is undefined outside any context', () => {
    expect(currentBudget()).toBeUndefined();
  });

  // A CommonJS app loads core's CJS build; a package it reaches through import() loads the ESM build.
  it('is shared with a second copy of the module, both ways', async () => {
    vi.resetModules();
    const copy = await import('./budget-context.ts');
    expect(copy.currentBudget).not.toBe(currentBudget);
    await runWithBudget({ subject: { tenant: 'acme' } }, async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      expect(copy.currentBudget()?.subject).toEqual({ tenant: 'acme' });
    });
    copy.runWithBudget({ subject: { tenant: 'beta' } }, () => {
      expect(currentBudget()?.subject).toEqual({ tenant: 'beta' });
    });
  });

  it('merges nested subjects, actions and attributes; inner levels win', async () => {
    await runWithBudget(
      { subject: { tenant: 'acme', app: 'chat', dimensions: { region: 'eu' } }, attributes: { a: 1 } },
      async () => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        runWithBudget(
          { subject: { app: 'search', agent: 'bot', dimensions: { user: 'u1' } }, attributes: { b: 2 } },
          () => {
            expect(currentBudget()).toMatchObject({
              subject: {
                tenant: 'acme',
                app: 'search',
                agent: 'bot',
                dimensions: { region: 'eu', user: 'u1' },
              },
              attributes: { a: 1, b: 2 },
            });
          },
        );
        expect(currentBudget()?.subject).toEqual({
          tenant: 'acme',
          app: 'chat',
          dimensions: { region: 'eu' },
        });
      },
    );
  });

  it('combines signals: aborting the outer aborts the inner', () => {
    const outer = new AbortController();
    const inner = new AbortController();
    runWithBudget({ signal: outer.signal }, () =>
      runWithBudget({ signal: inner.signal }, () => {
        const signal = currentBudget()?.signal;
        expect(signal?.aborted).toBe(false);
        outer.abort();
        expect(signal?.aborted).toBe(true);
      }),
    );
  });

  it('mergeSubjects ignores undefined levels', () => {
    expect(mergeSubjects({ tenant: 'a' }, undefined, { tenant: undefined, app: 'x' })).toEqual({
      tenant: 'a',
      app: 'x',
    });
  });
});
