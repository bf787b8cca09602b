import { InvalidRequestError } from '../protocol/errors.ts';
import { type LedgerRow, rollWindow, type TemplateOrigin } from './ledger-row.ts';

export type { TemplateOrigin } from './ledger-row.ts';

import type { LedgerTemplate, TemplateLedgerCounts, TenantSettings } from './types.ts';

// Bounds on what templates create. A template makes a ledger the first time a scope uses it, so an
// unbounded set of subjects (a tenant id from a request header, random app names) would otherwise grow
// memory without end and hand each new scope a full budget. Every template ledger is counted in all,
// per tenant and per template; a new one past a bound is refused (400 INVALID_REQUEST naming the bound), never made room for by evicting a
// ledger whose window is live (that would forget its spend). A ledger whose window is over, holding
// nothing and owing nothing, is equal to the fresh one its next use would create: it is dropped.

/** A template ledger to create: its template and the tenant it will count against. */
export interface TemplatePlan {
  scope: string;
  template: LedgerTemplate;
  tenant: string;
}

/** The live template ledgers, counted in all, per tenant and per template. */
export class TemplateCensus {
  private readonly rows = new Set<LedgerRow>();
  private readonly byTenant = new Map<string, number>();
  private readonly byTemplate = new Map<LedgerTemplate, number>();
  /** Earliest window end among windowed template ledgers (may be stale-early: a drop pass recomputes it). */
  private nextWindowEndMs = Number.POSITIVE_INFINITY;

  constructor(
    readonly limit: number,
    readonly perTenantLimit: number,
  ) {}

  get size(): number {
    return this.rows.size;
  }

  /**
   * Throws the bound's InvalidRequestError, changing nothing, unless all of `plans` fit under every bound.
   * `settingsOf` gives a tenant's own bound, if set.
   */
  admit(plans: readonly TemplatePlan[], settingsOf: (tenant: string) => TenantSettings | undefined): void {
    if (this.rows.size + plans.length > this.limit) {
      throw refusal('maxTemplateLedgers', this.limit, this.rows.size, plans[0]!);
    }
    for (let i = 0; i < plans.length; i++) {
      const plan = plans[i]!;
      let sameTenant = 0;
      let sameTemplate = 0;
      for (let j = 0; j <= i; j++) {
        if (plans[j]!.tenant === plan.tenant) sameTenant++;
        if (plans[j]!.template === plan.template) sameTemplate++;
      }
      const tenantLimit = settingsOf(plan.tenant)?.maxTemplateLedgers ?? this.perTenantLimit;
      const tenantCount = this.byTenant.get(plan.tenant) ?? 0;
      if (tenantCount + sameTenant > tenantLimit) {
        throw refusal('maxTemplateLedgersPerTenant', tenantLimit, tenantCount, plan);
      }
      const templateLimit = plan.template.maxLedgers;
      const templateCount = this.byTemplate.get(plan.template) ?? 0;
      if (templateLimit !== undefined && templateCount + sameTemplate > templateLimit) {
        throw refusal('template.maxLedgers', templateLimit, templateCount, plan);
      }
    }
  }

  /** Counts a new template ledger. */
  add(row: LedgerRow, origin: TemplateOrigin): void {
    row.template = origin;
    this.rows.add(row);
    bump(this.byTenant, origin.tenant, 1);
    bump(this.byTemplate, origin.template, 1);
    if (row.periodEndMs !== undefined && row.periodEndMs < this.nextWindowEndMs) {
      this.nextWindowEndMs = row.periodEndMs;
    }
  }

  /** Stops counting a ledger (removed, or made a provisioned one by an admin change). */
  forget(row: LedgerRow): void {
    const origin = row.template;
    if (origin === undefined || !this.rows.delete(row)) return;
    row.template = undefined;
    bump(this.byTenant, origin.tenant, -1);
    bump(this.byTemplate, origin.template, -1);
  }

  /**
   * Forgets (and hands to `drop`) every template ledger whose window ended before `now` and that holds
   * no reservation and owes no debt; rolls the others past their window end. Cheap until the earliest
   * window end: calendar windows end together, so this scans once per boundary. Returns how many went.
   */
  dropEnded(now: number, drop: (row: LedgerRow) => void): number {
    if (now < this.nextWindowEndMs) return 0;
    let dropped = 0;
    let next = Number.POSITIVE_INFINITY;
    for (const row of this.rows) {
      const end = row.periodEndMs;
      if (end === undefined) continue;
      if (end <= now) {
        if (row.reserved === 0 && row.debt === 0) {
          this.forget(row);
          drop(row);
          dropped++;
          continue;
        }
        rollWindow(row, now);
      }
      if (row.periodEndMs! < next) next = row.periodEndMs!;
    }
    this.nextWindowEndMs = next;
    return dropped;
  }

  counts(): TemplateLedgerCounts {
    const byTenant: Record<string, number> = {};
    for (const [tenant, count] of [...this.byTenant].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      byTenant[tenant] = count;
    }
    return { total: this.rows.size, limit: this.limit, perTenantLimit: this.perTenantLimit, byTenant };
  }
}

function bump<K>(counts: Map<K, number>, key: K, by: number): void {
  const next = (counts.get(key) ?? 0) + by;
  if (next === 0) counts.delete(key);
  else counts.set(key, next);
}

function refusal(bound: TemplateBound, limit: number, count: number, plan: TemplatePlan) {
  return templateLimitError({
    bound,
    limit,
    count,
    scope: plan.scope,
    tenant: plan.tenant,
    template: plan.template.pattern,
    unit: plan.template.unit,
  });
}

/** The bound a new template ledger would pass. */
export type TemplateBound = 'maxTemplateLedgers' | 'maxTemplateLedgersPerTenant' | 'template.maxLedgers';

/** What a template bound refusal names. */
export interface TemplateLimit {
  bound: TemplateBound;
  limit: number;
  /** Template ledgers already counted against the bound. */
  count: number;
  scope: string;
  tenant: string;
  template: string;
  unit: string;
}

const FIXES: Record<TemplateBound, string> = {
  maxTemplateLedgers:
    'raise the maxTemplateLedgers option, give templates a window (ended ones are dropped), or take subjects from authenticated identities only',
  maxTemplateLedgersPerTenant:
    "raise the tenant's maxTemplateLedgers setting or the maxTemplateLedgersPerTenant option, or give templates a window",
  'template.maxLedgers': "raise the template's maxLedgers, or give it a window",
};

/**
 * 400 INVALID_REQUEST naming the bound: a template ledger was not created because a bound is full. Not
 * LIMIT_EXCEEDED: the protocol keeps 429 for throttling, and this refusal holds until an operator raises
 * the bound or windows end, so retrying at once is pointless. The same error from every ledger (the
 * Redis ledger builds it from its script's reply).
 */
export function templateLimitError(limit: TemplateLimit): InvalidRequestError {
  const holder =
    limit.bound === 'maxTemplateLedgers'
      ? 'The ledger holds'
      : limit.bound === 'maxTemplateLedgersPerTenant'
        ? `Tenant "${limit.tenant}" holds`
        : `Template ${limit.template} (${limit.unit}) holds`;
  return new InvalidRequestError(
    `${holder} ${limit.count} template ledgers, its ${limit.bound} bound (${limit.limit}): ${limit.scope} was not created; ${FIXES[limit.bound]}`,
    {
      details: {
        field: 'subject',
        bound: limit.bound,
        limit: limit.limit,
        scope: limit.scope,
        tenant: limit.tenant,
        template: limit.template,
        unit: limit.unit,
      },
    },
  );
}
