import { afterEach, describe, expect, it } from 'vitest';
import type { BudgetAuthority } from '../authority.ts';
import { createMemoryLedger } from '../ledger/memory-ledger.ts';
import { InvalidConfigError } from '../protocol/errors.ts';
import { type LedgerScheme, ledgerFromUrl, registerLedgerScheme } from './ledger-schemes.ts';

const removals: Array<() => void> = [];
afterEach(() => {
  for (const remove of removals.splice(0)) remove();
});

const urlOptions = { variable: 'CYCLES_TEST_URL', provider: '@example/test-ledger' };

/** A scheme whose ledger is a memory ledger with one budget, counting what it was asked to create. */
function memoryScheme(): LedgerScheme & { created: Array<{ url: string; keyPrefix?: string }> } {
  const created: Array<{ url: string; keyPrefix?: string }> = [];
  return {
    created,
    create(options): BudgetAuthority {
      created.push(options);
      const ledger = createMemoryLedger();
      void ledger.createLedger({ scope: 'tenant:acme', unit: 'TOKENS', allocated: 100 });
      return ledger;
    },
    identity: ({ url, keyPrefix }) => `test ${url} ${keyPrefix ?? '-'}`,
  };
}

describe('ledgerFromUrl', () => {
  it('creates the registered ledger on first use, once, with the URL and key prefix', async () => {
    const scheme = memoryScheme();
    removals.push(registerLedgerScheme(['memtest:', 'memtests:'], scheme));
    const authority = ledgerFromUrl('memtests://host:1', { ...urlOptions, keyPrefix: 'app:' });
    expect(scheme.created).toEqual([]);
    expect(authority.identity).toBe('test memtests://host:1 app:');
    const [first, second] = await Promise.all([
      authority.getBalances({ tenant: 'acme' }),
      authority.decide({
        idempotencyKey: 'd-1',
        subject: { tenant: 'acme' },
        action: { kind: 'llm.completion', name: 'm' },
        estimate: { unit: 'TOKENS', amount: 10 },
      }),
    ]);
    expect(first.balances[0]?.remaining.amount).toBe(100);
    expect(second.decision).toBe('ALLOW');
    expect(scheme.created).toEqual([{ url: 'memtests://host:1', keyPrefix: 'app:' }]);
    await authority.close?.();
  });

  it('with nothing registered for the scheme: InvalidConfigError naming the variable and the package to import', () => {
    const error = (() => {
      try {
        ledgerFromUrl('nothing://host', urlOptions);
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(InvalidConfigError.isInstance(error)).toBe(true);
    expect((error as InvalidConfigError).details).toEqual({ field: 'CYCLES_TEST_URL' });
    expect((error as Error).message).toMatch(
      /no ledger is registered for nothing: URLs: import '@example\/test-ledger'/,
    );
  });

  it('a failed creation surfaces from the operation and is tried again next time', async () => {
    let attempts = 0;
    removals.push(
      registerLedgerScheme(['failing:'], {
        create() {
          attempts += 1;
          throw new Error('cannot connect');
        },
        identity: () => 'failing',
      }),
    );
    const authority = ledgerFromUrl('failing://x', urlOptions);
    await expect(authority.getReservation('r')).rejects.toThrow('cannot connect');
    await expect(authority.getReservation('r')).rejects.toThrow('cannot connect');
    expect(attempts).toBe(2);
    await authority.close?.();
  });
});

describe('registerLedgerScheme', () => {
  it('refuses a scheme that is not lower-case with its colon, naming the fix', () => {
    for (const bad of ['redis', 'Redis:', 'redis://', '']) {
      expect(() => registerLedgerScheme([bad], memoryScheme())).toThrow(
        /is not a URL scheme: pass it lower-case/,
      );
    }
  });

  it('removal forgets only its own registration, and a later one replaces an earlier one', async () => {
    const first = memoryScheme();
    const second = memoryScheme();
    const removeFirst = registerLedgerScheme(['swap:'], first);
    const removeSecond = registerLedgerScheme(['swap:'], second);
    removeFirst();
    const authority = ledgerFromUrl('swap://x', urlOptions);
    await authority.getBalances({ tenant: 'acme' });
    expect([first.created.length, second.created.length]).toEqual([0, 1]);
    removeSecond();
    expect(() => ledgerFromUrl('swap://x', urlOptions)).toThrow(/no ledger is registered for swap: URLs/);
  });

  it('is shared by every copy of core in the process (a global symbol)', () => {
    const scheme = memoryScheme();
    removals.push(registerLedgerScheme(['shared:'], scheme));
    const registry = (globalThis as Record<symbol, unknown>)[Symbol.for('cycles-guard.ledger-schemes')];
    expect((registry as Map<string, LedgerScheme>).get('shared:')).toBe(scheme);
  });
});
