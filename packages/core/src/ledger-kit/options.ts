import { invalid } from '../protocol/errors.ts';

// Options every ledger shares: their defaults and the check of a numeric option, so a ledger on any
// store starts with the same bounds and refuses the same bad values.

/** Defaults of the options the memory and Redis ledgers share (each ledger's README lists them). */
export const LEDGER_DEFAULTS = {
  sweepIntervalMs: 5_000,
  idempotencyRetentionMs: 86_400_000,
  reservationRetentionMs: 3_600_000,
  maxReservationsPerTenant: 50_000,
  reservationReplayWindowMs: 60_000,
  maxTemplateLedgers: 50_000,
  maxTemplateLedgersPerTenant: 1_000,
} as const;

/** A numeric option (or its default), refused at construction (400 naming it) unless an integer ≥ `min`. */
export function countOption<Name extends string>(
  options: { readonly [key in Name]?: number | undefined },
  name: Name,
  fallback: number,
  min = 0,
): number {
  const value = options[name] ?? fallback;
  if (!Number.isSafeInteger(value) || value < min) {
    throw invalid(name, `must be an integer ≥ ${min} (got ${String(value)})`, `fix the ${name} option`);
  }
  return value;
}

/** The bounds on template ledgers: in all, and per tenant (a tenant's own setting wins over the second). */
export interface TemplateBounds {
  limit: number;
  perTenantLimit: number;
}

/** The template bounds of a ledger's options, checked, with the shared defaults. */
export function templateBounds(options: {
  maxTemplateLedgers?: number | undefined;
  maxTemplateLedgersPerTenant?: number | undefined;
}): TemplateBounds {
  return {
    limit: countOption(options, 'maxTemplateLedgers', LEDGER_DEFAULTS.maxTemplateLedgers),
    perTenantLimit: countOption(
      options,
      'maxTemplateLedgersPerTenant',
      LEDGER_DEFAULTS.maxTemplateLedgersPerTenant,
    ),
  };
}
