import type { Clock } from '../clock.ts';
import type { LedgerStatus, Unit } from '../protocol/enums.ts';
import type { UnitMismatchError } from '../protocol/errors.ts';
import type { LedgerState } from '../protocol/types.ts';
import {
  normalizeScope,
  validateDefinition,
  validateTemplate,
  validateTenantSettings,
} from './definitions.ts';
import { tenantOfScope } from './events/event-types.ts';
import type { IdSource } from './ids.ts';
import {
  capsSet,
  createRow,
  type LedgerRow,
  overLimitAfterReconcile,
  rollWindow,
  toState,
} from './ledger-row.ts';
import {
  budgetClosedForGood,
  duplicateLedger,
  invalidAdminField,
  ledgerInUse,
  ledgerNotFound,
  tenantClosed,
  unitNotBudgeted,
} from './refusals.ts';
import type { SubjectEntry } from './subject-cache.ts';
import { TemplateCensus, type TemplatePlan } from './template-census.ts';
import { findTemplate } from './templates.ts';
import type { LedgerDefinition, LedgerTemplate, TemplateLedgerCounts, TenantSettings } from './types.ts';

/**
 * What is provisioned: the ledgers by (scope, unit), the templates and the tenant settings, plus the admin
 * operations on them. `generation` changes whenever a ledger or template is added or a ledger goes, which
 * invalidates the budgeted rows cached per subject.
 */
export class LedgerCatalog {
  readonly ledgers = new Map<string, LedgerRow>();
  /** Units of provisioned ledgers by scope (template ledgers' units are their templates'). */
  private readonly unitsByScope = new Map<string, Set<Unit>>();
  private readonly templates: LedgerTemplate[] = [];
  readonly tenants = new Map<string, TenantSettings>();
  private readonly census: TemplateCensus;
  generation = 0;

  constructor(
    private readonly clock: Clock,
    private readonly ids: IdSource,
    bounds: { maxTemplateLedgers: number; maxTemplateLedgersPerTenant: number },
  ) {
    this.census = new TemplateCensus(bounds.maxTemplateLedgers, bounds.maxTemplateLedgersPerTenant);
  }

  /** The tenant's settings (most embedded ledgers have none: skip the lookup). */
  settingsOf(tenant: string | undefined): TenantSettings | undefined {
    return tenant === undefined || this.tenants.size === 0 ? undefined : this.tenants.get(tenant);
  }

  /**
   * The ledgers of the subject's scopes in `unit`, creating template ledgers on first use (counted against
   * `tenant`, the caller's; all or none, INVALID_REQUEST past a bound unless `bounded` is false); windows
   * rolled. Events pass `bounded: false`: they record spend that already happened (a commit's fallback
   * after its ledger's window ended and it was dropped), and refusing one would lose a billed charge.
   */
  budgetedRows(
    entry: SubjectEntry,
    unit: Unit,
    now: number,
    tenant: string | undefined,
    bounded = true,
  ): LedgerRow[] {
    let cached = entry.byUnit.get(unit);
    if (cached === undefined || cached.generation !== this.generation) {
      const rows = this.rowsOf(entry.scopes, unit, now, tenant ?? '', bounded);
      cached = { generation: this.generation, rows };
      entry.byUnit.set(unit, cached);
    }
    const rows = cached.rows;
    for (let i = 0; i < rows.length; i++) rollWindow(rows[i]!, now);
    return rows;
  }

  private rowsOf(
    scopes: readonly string[],
    unit: Unit,
    now: number,
    tenant: string,
    bounded: boolean,
  ): LedgerRow[] {
    const plans: TemplatePlan[] = [];
    for (const scope of scopes) {
      if (this.ledgers.has(`${scope}|${unit}`)) continue;
      const template = findTemplate(this.templates, scope, unit);
      if (template !== undefined) plans.push({ scope, template, tenant });
    }
    if (plans.length > 0 && bounded) this.admitTemplates(plans, now);
    const rows: LedgerRow[] = [];
    let next = 0;
    for (const scope of scopes) {
      let row = this.ledgers.get(`${scope}|${unit}`);
      const plan = plans[next];
      if (row === undefined && plan?.scope === scope) {
        row = this.putLedger({ ...plan.template, scope }, false);
        this.census.add(row, { template: plan.template, tenant });
        next++;
      }
      if (row !== undefined) rows.push(row);
    }
    return rows;
  }

  /** Admits new template ledgers, dropping ended ones first when a bound would refuse them. */
  private admitTemplates(plans: readonly TemplatePlan[], now: number): void {
    const settingsOf = (tenant: string) => this.settingsOf(tenant);
    try {
      this.census.admit(plans, settingsOf);
    } catch (error) {
      if (this.dropEnded(now) === 0) throw error;
      this.census.admit(plans, settingsOf);
    }
  }

  /** Drops the template ledgers whose window is over and that hold and owe nothing; returns how many. */
  dropEnded(now: number): number {
    const dropped = this.census.dropEnded(now, (row) => this.ledgers.delete(`${row.scope}|${row.unit}`));
    if (dropped > 0) this.generation++;
    return dropped;
  }

  templateLedgerCounts(): TemplateLedgerCounts {
    return this.census.counts();
  }

  /** 400 UNIT_MISMATCH when a scope of the subject is budgeted (or templated) in another unit only. */
  unitMismatch(entry: SubjectEntry, unit: Unit): UnitMismatchError | undefined {
    for (const scope of entry.scopes) {
      const units = new Set(this.unitsByScope.get(scope));
      for (const template of this.templates) {
        if (findTemplate([template], scope, template.unit) !== undefined) units.add(template.unit);
      }
      units.delete(unit);
      if (units.size > 0) {
        const expected = [...units].sort();
        return unitNotBudgeted(scope, unit, expected);
      }
    }
    return undefined;
  }

  /** The ledger of (scope, unit), if any (scope normalized; window not rolled). */
  find(scope: string, unit: Unit): LedgerRow | undefined {
    return this.ledgers.get(`${normalizeScope(scope, 'scope')}|${unit}`);
  }

  /**
   * The ledger an admin operation targets; 404 when there is none, 409 TENANT_CLOSED when its tenant is
   * CLOSED (GOV Rule 2), unless the operation closes it (the tenant's cascade does).
   */
  adminRow(scope: string, unit: Unit, closes = false): LedgerRow {
    const path = normalizeScope(scope, 'scope');
    const row = this.ledgers.get(`${path}|${unit}`);
    if (row === undefined) {
      throw ledgerNotFound(path, unit);
    }
    if (!closes) this.guardOwnerOpen(path);
    return row;
  }

  /** 409 TENANT_CLOSED for a scope of a CLOSED tenant: its budgets never change again but to close. */
  private guardOwnerOpen(scope: string): void {
    const tenant = tenantOfScope(scope);
    if (this.settingsOf(tenant)?.status === 'CLOSED') throw tenantClosed(tenant);
  }

  /**
   * Called before an admin change (funding, status, limits) to a ledger: a template ledger it changes
   * becomes a provisioned one, no longer counted against the template bounds and never dropped at a window
   * end (that would undo the change).
   */
  adopt(row: LedgerRow): void {
    this.census.forget(row);
  }

  /** ACTIVE ↔ FROZEN; CLOSED is terminal. */
  setStatus(scope: string, unit: Unit, status: LedgerStatus): LedgerState {
    const row = this.adminRow(scope, unit, status === 'CLOSED');
    if (!['ACTIVE', 'FROZEN', 'CLOSED'].includes(status)) {
      throw invalidAdminField('status');
    }
    if (row.status === 'CLOSED' && status !== 'CLOSED') {
      throw budgetClosedForGood(row.scope);
    }
    this.adopt(row);
    row.status = status;
    return toState(row);
  }

  /** Forgets a ledger that holds nothing; the next use of a templated scope creates it afresh. */
  remove(scope: string, unit: Unit, now: number): LedgerState {
    const row = this.adminRow(scope, unit);
    rollWindow(row, now);
    if (row.reserved > 0) {
      throw ledgerInUse(row.scope, unit, row.reserved);
    }
    this.ledgers.delete(`${row.scope}|${unit}`);
    this.census.forget(row);
    const units = this.unitsByScope.get(row.scope);
    units?.delete(unit);
    if (units?.size === 0) this.unitsByScope.delete(row.scope);
    this.generation++;
    return toState(row);
  }

  update(
    scope: string,
    unit: Unit,
    changes: Partial<Pick<LedgerDefinition, 'overdraftLimit' | 'caps' | 'commitOveragePolicy'>>,
  ): LedgerState {
    const row = this.adminRow(scope, unit);
    const checked = validateDefinition(
      { scope: row.scope, unit, allocated: row.allocated, ...changes },
      'changes',
    );
    this.adopt(row);
    if ('overdraftLimit' in changes) row.overdraftLimit = checked.overdraftLimit ?? 0;
    if ('caps' in changes) {
      row.caps = checked.caps;
      row.hasCaps = capsSet(checked.caps);
    }
    if ('commitOveragePolicy' in changes) row.commitOveragePolicy = checked.commitOveragePolicy;
    // As Ref's admin plane: the flag is recomputed after every limit update.
    row.isOverLimit = overLimitAfterReconcile(row);
    return toState(row);
  }

  /** Every ledger's state, windows rolled to `now`. */
  list(now: number): LedgerState[] {
    const rows = [...this.ledgers.values()];
    for (const row of rows) rollWindow(row, now);
    return rows.map(toState);
  }

  /** Adds a ledger; `provisioned` false for a template's (its unit is the template's, not recorded per scope). */
  putLedger(input: LedgerDefinition, provisioned = true): LedgerRow {
    const definition = validateDefinition(input);
    const key = `${definition.scope}|${definition.unit}`;
    if (provisioned) this.guardOwnerOpen(definition.scope);
    if (this.ledgers.has(key)) {
      throw duplicateLedger(definition.scope, definition.unit);
    }
    const row = createRow(this.ids.next('led_'), definition, this.clock.now());
    this.ledgers.set(key, row);
    if (provisioned) {
      let units = this.unitsByScope.get(definition.scope);
      if (units === undefined) {
        units = new Set();
        this.unitsByScope.set(definition.scope, units);
      }
      units.add(definition.unit);
    }
    this.generation++;
    return row;
  }

  putTemplate(input: LedgerTemplate): void {
    this.templates.push(validateTemplate(input));
    this.generation++;
  }

  putTenant(tenant: string, settings: TenantSettings): void {
    this.tenants.set(tenant.toLowerCase(), validateTenantSettings(settings));
  }
}
