import { describe, expect, it } from 'vitest';
import { createMemoryLedger } from '../ledger/memory-ledger.ts';
import { readSubjectBalances } from './subject-balances.ts';

describe('readSubjectBalances', () => {
  it('reads the subject path and its ancestors, not siblings or descendants', async () => {
    const ledger = createMemoryLedger({
      sweepIntervalMs: 0,
      ledgers: [
        { scope: 'tenant:acme', unit: 'USD_MICROCENTS', allocated: 1000 },
        { scope: 'tenant:acme/app:chat', unit: 'USD_MICROCENTS', allocated: 500 },
        { scope: 'tenant:acme/app:search', unit: 'USD_MICROCENTS', allocated: 300 },
        { scope: 'tenant:acme/app:chat/agent:bot', unit: 'USD_MICROCENTS', allocated: 100 },
        { scope: 'tenant:globex', unit: 'USD_MICROCENTS', allocated: 700 },
      ],
    });
    const scopes = async (subject: Parameters<typeof readSubjectBalances>[1]) =>
      (await readSubjectBalances(ledger, subject)).map((balance) => balance.scopePath).sort();
    expect(await scopes({ tenant: 'acme', app: 'chat' })).toEqual(['tenant:acme', 'tenant:acme/app:chat']);
    expect(await scopes({ tenant: 'globex' })).toEqual(['tenant:globex']);
    // Without its tenant the path matches no ledger: callers merge the instance's subject first.
    expect(await scopes({ app: 'chat' })).toEqual([]);
    expect(await scopes({})).toEqual([]);
  });
});
