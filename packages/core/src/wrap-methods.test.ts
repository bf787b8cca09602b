import { describe, expect, it } from 'vitest';
import { createMemoryLedger } from './ledger/memory-ledger.ts';
import { type BoundMethod, wrapMethods } from './wrap-methods.ts';

describe('wrapMethods', () => {
  it('replaces the chosen methods, binds the rest once, and reads other properties through', async () => {
    class Counter {
      #count = 0;
      readonly label = 'counter';
      bump(): number {
        this.#count += 1;
        return this.#count;
      }
      read(): number {
        return this.#count;
      }
    }
    const seen: string[] = [];
    const counter = new Counter();
    const wrapped = wrapMethods(counter, (name, method) =>
      name === 'bump'
        ? (...args: unknown[]) => {
            seen.push(name);
            return method(...args);
          }
        : undefined,
    );
    expect(wrapped.bump()).toBe(1);
    expect(wrapped.read()).toBe(1); // bound: the private field is reachable through the proxy
    expect(wrapped.read).toBe(wrapped.read); // bound once
    expect(wrapped.label).toBe('counter');
    expect('bump' in wrapped).toBe(true);
    expect(seen).toEqual(['bump']);
  });

  it('wraps a ledger whose methods are frozen own properties (no Proxy invariant broken)', async () => {
    const ledger = createMemoryLedger({ sweepIntervalMs: 0 });
    const frozen = Object.freeze(
      Object.assign(Object.create(null), { getLedger: ledger.getLedger.bind(ledger) }),
    ) as { getLedger: typeof ledger.getLedger };
    let calls = 0;
    const wrapped = wrapMethods(
      frozen,
      (_name, method): BoundMethod =>
        (...args) => {
          calls += 1;
          return method(...args);
        },
    );
    expect(await wrapped.getLedger('tenant:none', 'TOKENS')).toBeUndefined();
    expect(calls).toBe(1);
  });
});
