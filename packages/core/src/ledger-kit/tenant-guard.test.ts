import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { guardQueriedTenant, guardSubject } from './tenant-guard.ts';

// The tenant guard both ledgers run at the door of every operation.

const variants = (tenant: string) =>
  fc.constantFrom(tenant, tenant.toUpperCase(), tenant[0]!.toUpperCase() + tenant.slice(1));

describe('ledger kit: tenant guard', () => {
  it('lets a caller act for its own tenant whatever the case, and answers the lower-cased tenant', () => {
    fc.assert(
      fc.property(variants('acme'), variants('acme'), (subject, caller) => {
        expect(guardSubject({ tenant: subject }, { tenant: caller })).toBe('acme');
        expect(() => guardQueriedTenant('acme', subject, 'Balances')).not.toThrow();
      }),
    );
    expect(guardSubject({ app: 'chat' }, { tenant: 'ACME' })).toBe('acme');
    expect(guardSubject({ tenant: 'Acme' }, undefined)).toBe('acme');
    expect(guardSubject({}, {})).toBeUndefined();
  });

  it('refuses another tenant’s subject or query with 403 naming the tenant asked for', () => {
    fc.assert(
      fc.property(variants('acme'), variants('globex'), (caller, other) => {
        expect(() => guardSubject({ tenant: other }, { tenant: caller })).toThrow(
          expect.objectContaining({ code: 'FORBIDDEN', status: 403, details: { tenant: other } }),
        );
        expect(() => guardQueriedTenant(caller.toLowerCase(), other, 'Reservations')).toThrow(
          expect.objectContaining({ message: 'Reservations of another tenant', details: { tenant: other } }),
        );
      }),
    );
    expect(() => guardQueriedTenant(undefined, 'globex', 'Balances')).not.toThrow();
    expect(() => guardQueriedTenant('acme', '', 'Balances')).not.toThrow();
  });

  it('echoes at most 128 characters of a queried tenant (a query parameter has no length bound)', () => {
    expect(() => guardQueriedTenant('acme', 'x'.repeat(60_000), 'Balances')).toThrow(
      expect.objectContaining({ details: { tenant: `${'x'.repeat(128)}…` } }),
    );
  });
});
