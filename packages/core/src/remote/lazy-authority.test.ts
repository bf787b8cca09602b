import { describe, expect, it } from 'vitest';
import { createMemoryLedger } from '../ledger/memory-ledger.ts';
import { createRedisAuthorityFromUrl, type RedisLedgerModule } from './redis-from-env.ts';

describe('createRedisAuthorityFromUrl', () => {
  it('loads the ledger package on first use, once, with the URL', async () => {
    const urls: string[] = [];
    let loads = 0;
    const ledger = createMemoryLedger();
    await ledger.createLedger({ scope: 'tenant:acme', unit: 'TOKENS', allocated: 100 });
    const module: RedisLedgerModule = {
      createRedisLedger: ({ url }) => {
        urls.push(url);
        return ledger;
      },
    };
    const authority = createRedisAuthorityFromUrl('redis://127.0.0.1:6390', async () => {
      loads += 1;
      return module;
    });
    expect(loads).toBe(0);
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
    expect(loads).toBe(1);
    expect(urls).toEqual(['redis://127.0.0.1:6390']);
    await authority.close?.();
  });

  it('surfaces a failed load from the operation and tries again next time', async () => {
    let attempts = 0;
    const authority = createRedisAuthorityFromUrl('redis://x', async () => {
      attempts += 1;
      throw new Error('not installed');
    });
    await expect(authority.getReservation('r')).rejects.toThrow('not installed');
    await expect(authority.getReservation('r')).rejects.toThrow('not installed');
    expect(attempts).toBe(2);
    await authority.close?.();
  });
});
