import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { countOption, LEDGER_DEFAULTS, templateBounds } from './options.ts';

// Option checks both ledgers run at construction.

describe('ledger kit: options', () => {
  it('takes an integer ≥ min, or the default when unset', () => {
    expect(countOption({}, 'sweepIntervalMs', 5)).toBe(5);
    expect(countOption({ sweepIntervalMs: 0 }, 'sweepIntervalMs', 5)).toBe(0);
    expect(templateBounds({})).toEqual({
      limit: LEDGER_DEFAULTS.maxTemplateLedgers,
      perTenantLimit: LEDGER_DEFAULTS.maxTemplateLedgersPerTenant,
    });
    expect(templateBounds({ maxTemplateLedgers: 3, maxTemplateLedgersPerTenant: 0 })).toEqual({
      limit: 3,
      perTenantLimit: 0,
    });
  });

  it('refuses anything else with a 400 naming the option and the fix', () => {
    const bad = fc.oneof(
      fc.integer({ max: 0 }),
      fc.double({ noInteger: true }),
      fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53),
    );
    fc.assert(
      fc.property(bad, (value) => {
        expect(() =>
          countOption({ maxReservationsPerTenant: value }, 'maxReservationsPerTenant', 5, 1),
        ).toThrow(
          expect.objectContaining({
            code: 'INVALID_REQUEST',
            details: { field: 'maxReservationsPerTenant' },
            message: expect.stringContaining('fix the maxReservationsPerTenant option'),
          }),
        );
      }),
    );
    expect(() => templateBounds({ maxTemplateLedgersPerTenant: -1 })).toThrow(/maxTemplateLedgersPerTenant/);
  });
});
