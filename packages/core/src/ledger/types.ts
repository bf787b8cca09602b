import type { BudgetAuthority, CallContext } from '../authority.ts';
import type { LedgerStatus, OveragePolicy, Unit } from '../protocol/enums.ts';
import type { BudgetWindow, Caps, LedgerState } from '../protocol/types.ts';
import type { LedgerEvents } from './events/ledger-events-types.ts';

/** Declares one budget. `scope` is a canonical path such as `tenant:acme/app:chat`. */
export interface LedgerDefinition {
  scope: string;
  unit: Unit;
  allocated: number;
  overdraftLimit?: number;
  /** Returned as ALLOW_WITH_CAPS when this ledger is the subject's leaf scope. */
  caps?: Caps;
  /** Overrides the tenant's default overage policy for commits touching this ledger (request wins). */
  commitOveragePolicy?: OveragePolicy;
  /**
   * **Extension.** Start a new period at each calendar boundary: spent returns to 0, live holds and debt
   * carry over (RESET_SPENT semantics), with no poller and no lag at the boundary.
   */
  window?: BudgetWindow;
  status?: LedgerStatus;
}

/**
 * **Extension (templates).** A rule that creates a ledger on first use for every scope matching
 * `pattern`. Segments are `level:value` or `level:*`, e.g. `tenant:*` or `tenant:*` + `/app:chat`.
 */
export interface LedgerTemplate {
  pattern: string;
  unit: Unit;
  allocated: number;
  overdraftLimit?: number;
  caps?: Caps;
  commitOveragePolicy?: OveragePolicy;
  window?: BudgetWindow;
  /**
   * Most live ledgers this template may hold at once (default: only the ledger-wide bounds apply). A new
   * scope past it is refused with INVALID_REQUEST; a ledger leaves the count when its window ends.
   */
  maxLedgers?: number;
}

/** Tenant settings the runtime reads (governance plane, simplified). */
export interface TenantSettings {
  status?: 'ACTIVE' | 'SUSPENDED' | 'CLOSED';
  defaultCommitOveragePolicy?: OveragePolicy;
  /** Default 60,000. */
  defaultReservationTtlMs?: number;
  /** Longer TTLs are capped to this. Default 3,600,000. */
  maxReservationTtlMs?: number;
  /** Default 10. */
  maxReservationExtensions?: number;
  /**
   * Most reservations (live + finished and still retained) the tenant may hold; overrides the ledger's
   * `maxReservationsPerTenant`. Past it, its own oldest finished ones past the replay window are
   * forgotten, or its new reserves are refused with LIMIT_EXCEEDED (429). Never anyone else's.
   */
  maxReservations?: number;
  /** Most live template ledgers this tenant may hold (default: the ledger's `maxTemplateLedgersPerTenant`). */
  maxTemplateLedgers?: number;
  /**
   * **v0.1.26 observe mode.** true: reserves that do not choose a mode are observed (evaluated, nothing
   * held, answered as a dry run). Default false (ENFORCE).
   */
  observeMode?: boolean;
}

/** How many live template ledgers a ledger holds, in all and per tenant (the scope's or caller's tenant). */
export interface TemplateLedgerCounts {
  total: number;
  /** The ledger-wide bound (`maxTemplateLedgers`). */
  limit: number;
  /** The default per-tenant bound (`maxTemplateLedgersPerTenant`; a tenant's settings may override it). */
  perTenantLimit: number;
  /** Tenant → live template ledgers it holds (tenants holding none are absent; '' = no tenant). */
  byTenant: Record<string, number>;
}

export type FundingOperation =
  | { operation: 'CREDIT'; amount: number }
  | { operation: 'DEBIT'; amount: number }
  | { operation: 'RESET'; amount: number }
  | { operation: 'RESET_SPENT'; amount: number; spent?: number }
  | { operation: 'REPAY_DEBT'; amount: number };

export interface FundingRequest {
  scope: string;
  unit: Unit;
  funding: FundingOperation;
  idempotencyKey?: string;
  reason?: string;
}

export interface FundingResult {
  previous: Pick<LedgerState, 'allocated' | 'remaining' | 'debt' | 'spent'>;
  current: LedgerState;
}

/** Provisioning for a ledger the process owns (embedded or Redis). */
export interface LedgerAdmin {
  /** Creates a budget; 409 (INVALID_REQUEST details) if one exists for (scope, unit). */
  createLedger(definition: LedgerDefinition): Promise<LedgerState>;
  fund(request: FundingRequest): Promise<FundingResult>;
  /** ACTIVE ↔ FROZEN; CLOSED is terminal. */
  setLedgerStatus(scope: string, unit: Unit, status: LedgerStatus): Promise<LedgerState>;
  updateLedger(
    scope: string,
    unit: Unit,
    changes: Partial<Pick<LedgerDefinition, 'overdraftLimit' | 'caps' | 'commitOveragePolicy'>>,
  ): Promise<LedgerState>;
  /**
   * Removes a ledger that holds nothing (reserved 0) and returns its last state; its parents keep what
   * it spent. 404 if there is none; 409 (`LedgerInUseError`) while a reservation holds on it. A template
   * ledger comes back fresh on its next use, so remove only scopes nobody will use again (a finished run).
   */
  removeLedger(scope: string, unit: Unit): Promise<LedgerState>;
  getLedger(scope: string, unit: Unit): Promise<LedgerState | undefined>;
  listLedgers(): Promise<LedgerState[]>;
  addTemplate(template: LedgerTemplate): Promise<void>;
  setTenant(tenant: string, settings: TenantSettings): Promise<void>;
  /** A tenant's settings as last set, or undefined if none were (the server's tenant events read it). */
  getTenant?(tenant: string): Promise<TenantSettings | undefined>;
  /**
   * Closes a tenant in one atomic step (GOV Rule 1): stores `settings` (status must be CLOSED) and
   * releases every live reservation of the tenant, which no settlement call can do once it is CLOSED.
   * From then on the ledger refuses the tenant's reserves, settlements and budget writes itself, on every
   * server sharing it. Run again on a CLOSED tenant, it releases whatever is still live. Only a server's
   * tenant-close cascade calls it; there is no runtime route to it.
   */
  closeTenant?(tenant: string, settings: TenantSettings): Promise<TenantClosing>;
  /** How many live template ledgers exist, in all and per tenant, with the bounds that apply. */
  templateLedgerCounts(): Promise<TemplateLedgerCounts>;
  /** Expires every reservation past expiry + grace now; returns how many. The sweeper calls this. */
  sweepExpired(): Promise<number>;
}

/** What closing a tenant released: one entry per reservation it ended (none when nothing was live). */
export interface TenantClosing {
  released: Array<{ reservationId: string; unit: Unit; amount: number; scopes: string[] }>;
}

/** A ledger: the runtime protocol plus provisioning. Both the memory and Redis ledgers implement it. */
export interface Ledger extends BudgetAuthority, LedgerAdmin {
  /** The protocol events the ledger emits (thresholds, denials, expiry, ...), when it keeps any. */
  readonly events?: LedgerEvents;
}

export type { CallContext };
