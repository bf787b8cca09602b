import type { CallContext } from '../authority.ts';
import { type Clock, systemClock } from '../clock.ts';
import { toBalance } from '../ledger-kit/balances.ts';
import { countOption as count, LEDGER_DEFAULTS, templateBounds } from '../ledger-kit/options.ts';
import { queryReservations } from '../ledger-kit/reservation-query.ts';
import { guardQueriedTenant, guardSubject } from '../ledger-kit/tenant-guard.ts';
import { denyDetailOf } from '../protocol/deny-detail.ts';
import type { LedgerStatus, OveragePolicy, Unit } from '../protocol/enums.ts';
import type {
  BalancesQuery,
  BalancesResponse,
  CommitRequest,
  CommitResponse,
  DecideRequest,
  DecideResponse,
  EventRequest,
  EventResponse,
  ExtendRequest,
  ExtendResponse,
  ListReservationsQuery,
  ListReservationsResponse,
  ReleaseRequest,
  ReleaseResponse,
  ReservationDetail,
  ReserveRequest,
  ReserveResponse,
  Subject,
} from '../protocol/types.ts';
import { validateInput } from '../protocol/validate-input.ts';
import { planOverage } from './commit-math.ts';
import { validateClosingSettings } from './definitions.ts';
import { evaluateRows, evaluationError, exceeded } from './evaluate.ts';
import { LedgerEventLog, type LedgerEvents } from './events/event-log.ts';
import { MemoryLedgerEvents } from './events/memory-ledger-events.ts';
import { applyFunding, checkFundingAmount } from './funding.ts';
import {
  type IdempotencyRecord,
  type IdempotencySpace,
  IdempotencyStore,
  type RecordClass,
} from './idempotency.ts';
import { IdSource } from './ids.ts';
import { LedgerCatalog } from './ledger-catalog.ts';
import {
  checkReplay,
  denial,
  expiredError,
  guardStatus,
  notFound,
  overageError,
  tooManyRecords,
  tooManyReservations,
} from './ledger-errors.ts';
import { memoryBalancesPage } from './ledger-queries.ts';
import { type LedgerRow, rollWindow, toState } from './ledger-row.ts';
import { isLiveReserve, type LiveReserve, LiveReservePool, liveReserveResponse } from './live-reserve.ts';
import type { MemoryLedgerOptions } from './memory-ledger-options.ts';
import {
  commitFingerprint,
  decideFingerprint,
  eventFingerprint,
  extendFingerprint,
  fundingFingerprint,
  releaseFingerprint,
  reserveFingerprint,
} from './payloads.ts';
import {
  commitUnitMismatch,
  maxExtensionsExceeded,
  reservationFinalized,
  reservationNotFound,
  reservationOfAnotherTenant,
  tenantClosed,
} from './refusals.ts';
import { ReservationTable } from './reservation-table.ts';
import {
  commitResponseOf,
  type ReservationRow,
  releaseResponseOf,
  reservationIdOf,
  rowNaming,
  toDetail,
} from './reservations.ts';
import { SubjectCache, type SubjectEntry } from './subject-cache.ts';
import type {
  FundingRequest,
  FundingResult,
  Ledger,
  LedgerDefinition,
  LedgerTemplate,
  TenantClosing,
  TenantSettings,
} from './types.ts';

export type { MemoryLedgerOptions } from './memory-ledger-options.ts';
export { DuplicateLedgerError, LedgerInUseError } from './refusals.ts';

const DEFAULT_TTL_MS = 60_000;
const DEFAULT_MAX_TTL_MS = 3_600_000;
const DEFAULT_GRACE_MS = 5_000;
const DEFAULT_MAX_EXTENSIONS = 10;
const MAX_SUBJECT_CACHE = 10_000;

let lastRaw = '';
let lastLower = '';

// Module-level memo, safe: one string pair per process, reused only for an identical input, so a
// caller never gets another tenant's result; it saves toLowerCase's allocation on repeat tenants.
/** Lower-cases a tenant; memoizes the last one (toLowerCase allocates even when nothing changes). */
function lower(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (value !== lastRaw) {
    lastRaw = value;
    lastLower = value.toLowerCase();
  }
  return lastLower;
}

/**
 * The embedded, in-process ledger: the whole Cycles runtime protocol (reserve, commit, release, extend,
 * decide, events, balances, reservation reads) plus provisioning, in memory, with zero dependencies.
 *
 * Every operation runs synchronously inside its async method, so it is atomic in JavaScript's single
 * thread: a reserve checks every budgeted scope, then writes all of them, with no await in between.
 * Expiry is lazy (checked on every access) plus a periodic, unref'd sweeper.
 */
export function createMemoryLedger(options: MemoryLedgerOptions = {}): Ledger {
  return new MemoryLedger(options);
}

class MemoryLedger implements Ledger {
  private readonly clock: Clock;
  private readonly ids = new IdSource();
  private readonly catalog: LedgerCatalog;
  private readonly subjects = new SubjectCache(MAX_SUBJECT_CACHE);
  private readonly reservations: ReservationTable;
  private readonly idempotency: IdempotencyStore;
  private readonly lives = new LiveReservePool();
  private readonly idempotencyRetentionMs: number;
  private readonly eventRetentionMs: number;
  private readonly includeBalances: boolean;
  /** Protocol events (thresholds, denials, expiry, ...): `events: false` turns them off. */
  readonly events: LedgerEvents | undefined;
  private readonly hooks: MemoryLedgerEvents | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(options: MemoryLedgerOptions) {
    this.clock = options.clock ?? systemClock;
    const bounds = templateBounds(options);
    this.catalog = new LedgerCatalog(this.clock, this.ids, {
      maxTemplateLedgers: bounds.limit,
      maxTemplateLedgersPerTenant: bounds.perTenantLimit,
    });
    this.idempotency = new IdempotencyStore(
      {
        maxPerTenant: count(options, 'maxIdempotencyRecordsPerTenant', 100_000, 1),
        replayWindowMs: count(options, 'eventReplayWindowMs', 3_600_000),
      },
      this.lives.reclaim,
    );
    this.idempotencyRetentionMs = count(
      options,
      'idempotencyRetentionMs',
      LEDGER_DEFAULTS.idempotencyRetentionMs,
    );
    this.eventRetentionMs = count(options, 'eventIdempotencyRetentionMs', 7 * 86_400_000);
    if (options.events !== false) {
      const log = new LedgerEventLog(options.events, this.clock);
      this.events = log;
      this.hooks = new MemoryLedgerEvents(log);
    }
    this.reservations = new ReservationTable(
      this.ids,
      this.idempotency,
      {
        retentionMs: count(options, 'reservationRetentionMs', LEDGER_DEFAULTS.reservationRetentionMs),
        maxPerTenant: count(options, 'maxReservationsPerTenant', LEDGER_DEFAULTS.maxReservationsPerTenant, 1),
        replayWindowMs: count(
          options,
          'reservationReplayWindowMs',
          LEDGER_DEFAULTS.reservationReplayWindowMs,
        ),
      },
      this.hooks?.expired,
    );
    this.includeBalances = options.includeBalances === true;
    for (const [tenant, settings] of Object.entries(options.tenants ?? {}))
      this.catalog.putTenant(tenant, settings);
    for (const template of options.templates ?? []) this.catalog.putTemplate(template);
    for (const definition of options.ledgers ?? []) this.catalog.putLedger(definition);
    const interval = count(options, 'sweepIntervalMs', LEDGER_DEFAULTS.sweepIntervalMs);
    if (interval > 0) {
      this.timer = setInterval(() => this.sweep(this.clock.now()), interval);
      this.timer.unref?.();
    }
  }

  // ---- runtime protocol -------------------------------------------------------------------------

  async reserve(request: ReserveRequest, context?: CallContext): Promise<ReserveResponse> {
    validateInput.reserve(request);
    const now = this.tick();
    const tenant = guardSubject(request.subject, context);
    const space = this.idempotency.space(lower(context?.tenant) ?? tenant ?? '', 'reserve');
    const key = request.idempotencyKey;
    const print = reserveFingerprint(request);
    const replay = this.idempotency.lookup<ReserveResponse | LiveReserve>(space, key, print, now);
    if (replay !== undefined) return this.replayReserve(replay.response, now);

    const entry = this.subjectEntry(request.subject);
    const unit = request.estimate.unit;
    const settings = this.catalog.settingsOf(tenant);
    // Observe mode (v0.1.26): the request's choice, else the tenant's default; answered as a dry run.
    const observed = request.observeMode ?? settings?.observeMode === true;
    const dryRun = request.dryRun === true || observed;
    if (settings?.status === 'CLOSED') {
      if (!dryRun || observed) {
        this.hooks?.denied(
          { reason: 'TENANT_CLOSED', requested: request.estimate.amount },
          entry.path,
          tenant,
          request,
          observed,
          context,
        );
      }
      if (!dryRun) throw tenantClosed(tenant);
      return this.storeReserve(space, key, print, now, {
        decision: 'DENY',
        affectedScopes: entry.scopes,
        scopePath: entry.path,
        reasonCode: 'TENANT_CLOSED',
        denyDetail: denyDetailOf({ reason: 'TENANT_CLOSED' }),
      });
    }
    const rows = this.catalog.budgetedRows(entry, unit, now, tenant);
    if (rows.length === 0) {
      const mismatch = this.catalog.unitMismatch(entry, unit);
      if (mismatch !== undefined || !dryRun) throw mismatch ?? notFound(entry);
      // Observed, it is a DENY like any other (PEXT: observed_denied on DENY), as on Redis.
      const refusal = { reason: 'BUDGET_NOT_FOUND', requested: request.estimate.amount };
      if (observed) this.hooks?.denied(refusal, entry.path, tenant, request, true, context);
      return this.storeReserve(space, key, print, now, {
        decision: 'DENY',
        affectedScopes: entry.scopes,
        scopePath: entry.path,
        reasonCode: 'BUDGET_NOT_FOUND',
        denyDetail: denyDetailOf({ reason: 'BUDGET_NOT_FOUND', scope: entry.path, unit }),
      });
    }
    const evaluation = evaluateRows(rows, request.estimate.amount, request.minimum);
    if (!evaluation.ok) {
      if (!dryRun || observed) this.hooks?.denied(evaluation, entry.path, tenant, request, observed, context);
      if (!dryRun) throw evaluationError(evaluation, now);
      return this.storeReserve(space, key, print, now, {
        ...denial(evaluation, now),
        affectedScopes: entry.scopes,
        scopePath: entry.path,
        balances: rows.map(toBalance),
      });
    }
    const hold = evaluation.hold;
    const leaf = rows[rows.length - 1]!;
    const caps = leaf.scope === entry.path && leaf.hasCaps ? leaf.caps : undefined;
    if (dryRun) {
      const response: ReserveResponse = {
        decision: caps === undefined ? 'ALLOW' : 'ALLOW_WITH_CAPS',
        affectedScopes: entry.scopes,
        reserved: { unit, amount: hold },
        scopePath: entry.path,
      };
      if (caps !== undefined) response.caps = caps;
      if (evaluation.partial) response.partial = true;
      response.balances = rows.map(toBalance);
      if (observed) {
        this.hooks?.observedAllowed(entry.path, tenant, request, response.decision, hold, caps, context);
      }
      return this.storeReserve(space, key, print, now, response);
    }

    const owner = this.reservations.tenant(tenant ?? lower(context?.tenant));
    const wait = this.reservations.waitForRoom(owner, settings?.maxReservations, now);
    if (wait > 0) throw tooManyReservations(tenant, wait);
    const before = this.hooks?.snapshot(rows);
    for (const row of rows) {
      row.reserved += hold;
      row.remaining -= hold;
    }
    if (before !== undefined) this.hooks!.reserved(before, rows, tenant, context, now);
    const ttl = Math.min(
      request.ttlMs ?? settings?.defaultReservationTtlMs ?? DEFAULT_TTL_MS,
      settings?.maxReservationTtlMs ?? DEFAULT_MAX_TTL_MS,
    );
    const id = this.ids.next('rsv_');
    const reservation = this.reservations.blank();
    reservation.sequence = this.ids.last;
    reservation.ids = this.ids;
    reservation.tenant = tenant ?? lower(context?.tenant);
    reservation.subject = request.subject.dimensions === undefined ? entry.subject : { ...request.subject };
    reservation.action = request.action;
    reservation.unit = unit;
    reservation.estimate = hold;
    reservation.rows = rows;
    reservation.scopePath = entry.path;
    reservation.affectedScopes = entry.scopes;
    reservation.createdAtMs = now;
    reservation.expiresAtMs = now + ttl;
    reservation.graceMs = request.gracePeriodMs ?? DEFAULT_GRACE_MS;
    reservation.overagePolicy = this.overagePolicy(request.overagePolicy, rows, settings);
    reservation.maxExtensions = settings?.maxReservationExtensions ?? DEFAULT_MAX_EXTENSIONS;
    reservation.idempotencyKey = request.idempotencyKey;
    reservation.metadata = request.metadata;
    this.reservations.add(reservation, owner);
    const live = this.lives.take(entry);
    live.sequence = reservation.sequence;
    live.entry = entry;
    live.unit = unit;
    live.amount = hold;
    live.expiresAtMs = reservation.expiresAtMs;
    live.caps = caps;
    live.partial = evaluation.partial;
    live.balances = this.includeBalances ? rows.map(toBalance) : undefined;
    // The key outlives the hold (Ref keeps max(ttl + grace, 24 h)) and is pinned while the hold is live,
    // so the record cap can never make a retried reserve hold twice.
    const expiresAtMs = now + Math.max(this.idempotencyRetentionMs, ttl + reservation.graceMs);
    reservation.reserveRecord = this.idempotency.store(space, key, print, live, expiresAtMs, 'pinned', now);
    return liveReserveResponse(live, id, ttl);
  }

  async commit(
    reservationId: string,
    request: CommitRequest,
    context?: CallContext,
  ): Promise<CommitResponse> {
    validateInput.commit(reservationId, request);
    // Fingerprinted before anything changes: nothing after the first write may throw on the input.
    const print = commitFingerprint(request);
    const now = this.tick();
    const reservation = this.reservationFor(reservationId, context);
    if (reservation.status === 'COMMITTED' && reservation.settledKey === request.idempotencyKey) {
      checkReplay(reservation.settledFingerprint, print);
      return commitResponseOf(reservation);
    }
    this.guardOpen(reservation);
    const unit = reservation.unit;
    if (request.actual.unit !== unit) {
      throw commitUnitMismatch(request.actual.unit, unit);
    }
    this.guardGrace(reservation, now);

    const rows = reservation.rows;
    for (const row of rows) rollWindow(row, now);
    const before = this.hooks?.snapshot(rows);
    const estimate = reservation.estimate;
    const actual = request.actual.amount;
    const response: CommitResponse = { status: 'COMMITTED', charged: { unit, amount: actual } };
    if (actual <= estimate) {
      for (const row of rows) {
        row.reserved -= estimate;
        row.remaining += estimate - actual;
        row.spent += actual;
      }
      if (actual < estimate) response.released = { unit, amount: estimate - actual };
    } else {
      const overrun = actual - estimate;
      if (reservation.overagePolicy === 'REJECT') {
        // Ref: a REJECT overrun is refused and the hold stays ACTIVE (release, commit ≤ E, or expire).
        const blocking = rows.find((row) => row.remaining < overrun) ?? rows[rows.length - 1]!;
        throw exceeded(blocking, actual, now);
      }
      const plan = planOverage(rows, overrun, reservation.overagePolicy);
      if (!plan.ok) throw overageError(plan.code, rows[plan.index]!, actual, now);
      for (let i = 0; i < rows.length; i++) {
        const row = rows[i]!;
        const scope = plan.scopes[i]!;
        row.reserved -= estimate;
        row.spent += estimate + scope.spent;
        row.remaining -= plan.extra;
        row.debt += scope.debt;
        if (scope.flag) row.isOverLimit = true;
      }
      response.charged = { unit, amount: estimate + plan.extra };
    }
    if (this.includeBalances) {
      response.balances = rows.map(toBalance);
      reservation.settledBalances = response.balances;
    }
    if (before !== undefined) this.hooks!.committed(before, reservation, actual, context, now);
    reservation.committed = response.charged.amount;
    reservation.committedMetadata = request.metadata;
    reservation.settledKey = request.idempotencyKey;
    reservation.settledFingerprint = print;
    this.reservations.end(reservation, 'COMMITTED', now);
    return response;
  }

  async release(
    reservationId: string,
    request: ReleaseRequest,
    context?: CallContext,
  ): Promise<ReleaseResponse> {
    validateInput.release(reservationId, request);
    const print = releaseFingerprint(request);
    const now = this.tick();
    const reservation = this.reservationFor(reservationId, context);
    if (reservation.status === 'RELEASED' && reservation.settledKey === request.idempotencyKey) {
      checkReplay(reservation.settledFingerprint, print);
      return releaseResponseOf(reservation);
    }
    this.guardOpen(reservation);
    this.guardGrace(reservation, now);
    const estimate = reservation.estimate;
    for (const row of reservation.rows) rollWindow(row, now);
    const before = this.hooks?.snapshot(reservation.rows);
    for (const row of reservation.rows) {
      row.reserved -= estimate;
      row.remaining += estimate;
    }
    if (before !== undefined)
      this.hooks!.changed(before, reservation.rows, context, undefined, undefined, now);
    const response: ReleaseResponse = {
      status: 'RELEASED',
      released: { unit: reservation.unit, amount: estimate },
    };
    if (this.includeBalances) {
      response.balances = reservation.rows.map(toBalance);
      reservation.settledBalances = response.balances;
    }
    reservation.settledKey = request.idempotencyKey;
    reservation.settledFingerprint = print;
    this.reservations.end(reservation, 'RELEASED', now);
    return response;
  }

  async extend(
    reservationId: string,
    request: ExtendRequest,
    context?: CallContext,
  ): Promise<ExtendResponse> {
    validateInput.extend(reservationId, request);
    const now = this.tick();
    const reservation = this.reservationFor(reservationId, context);
    const print = extendFingerprint(request);
    const stored = reservation.extends?.get(request.idempotencyKey);
    if (stored !== undefined) {
      checkReplay(stored.fingerprint, print);
      const replay = { ...stored.response };
      replay.remainingTtlMs = this.remainingTtl(reservation, now);
      return replay;
    }
    this.guardOpen(reservation);
    // No grace for extend: past expiry is 410 even while commit is still accepted.
    if (now > reservation.expiresAtMs) throw expiredError(reservation);
    if (reservation.extensions >= reservation.maxExtensions) {
      throw maxExtensionsExceeded(
        reservationIdOf(reservation),
        reservation.extensions,
        reservation.maxExtensions,
      );
    }
    reservation.expiresAtMs += request.extendByMs;
    reservation.extensions++;
    const response: ExtendResponse = {
      status: 'ACTIVE',
      expiresAtMs: reservation.expiresAtMs,
      remainingTtlMs: reservation.expiresAtMs - now,
    };
    if (this.includeBalances) response.balances = reservation.rows.map(toBalance);
    reservation.extends ??= new Map();
    reservation.extends.set(request.idempotencyKey, { fingerprint: print, response });
    return { ...response };
  }

  async decide(request: DecideRequest, context?: CallContext): Promise<DecideResponse> {
    validateInput.decide(request);
    const now = this.tick();
    const tenant = guardSubject(request.subject, context);
    const space = this.idempotency.space(lower(context?.tenant) ?? tenant ?? '', 'decide');
    const print = decideFingerprint(request);
    const replay = this.idempotency.lookup<DecideResponse>(space, request.idempotencyKey, print, now);
    if (replay !== undefined) return { ...replay.response };

    const entry = this.subjectEntry(request.subject);
    let response: DecideResponse;
    if (tenant !== undefined && this.catalog.tenants.get(tenant)?.status === 'CLOSED') {
      response = {
        decision: 'DENY',
        reasonCode: 'TENANT_CLOSED',
        affectedScopes: entry.scopes,
        denyDetail: denyDetailOf({ reason: 'TENANT_CLOSED' }),
      };
    } else {
      const rows = this.catalog.budgetedRows(entry, request.estimate.unit, now, tenant);
      if (rows.length === 0) {
        const mismatch = this.catalog.unitMismatch(entry, request.estimate.unit);
        if (mismatch !== undefined) throw mismatch;
        response = {
          decision: 'DENY',
          reasonCode: 'BUDGET_NOT_FOUND',
          affectedScopes: entry.scopes,
          denyDetail: denyDetailOf({
            reason: 'BUDGET_NOT_FOUND',
            scope: entry.path,
            unit: request.estimate.unit,
          }),
        };
      } else {
        const evaluation = evaluateRows(rows, request.estimate.amount);
        const leaf = rows[rows.length - 1]!;
        if (!evaluation.ok) response = { ...denial(evaluation, now), affectedScopes: entry.scopes };
        else if (leaf.scope === entry.path && leaf.hasCaps) {
          response = { decision: 'ALLOW_WITH_CAPS', caps: leaf.caps!, affectedScopes: entry.scopes };
        } else response = { decision: 'ALLOW', affectedScopes: entry.scopes };
      }
    }
    this.remember(space, request.idempotencyKey, print, response, 'replaceable', now);
    return { ...response };
  }

  async createEvent(request: EventRequest, context?: CallContext): Promise<EventResponse> {
    validateInput.event(request);
    const now = this.tick();
    const tenant = guardSubject(request.subject, context);
    const space = this.idempotency.space(lower(context?.tenant) ?? tenant ?? '', 'event');
    const print = eventFingerprint(request);
    const replay = this.idempotency.lookup<EventResponse>(space, request.idempotencyKey, print, now);
    if (replay !== undefined) return { ...replay.response };
    const settings = this.catalog.settingsOf(tenant);
    if (settings?.status === 'CLOSED') throw tenantClosed(tenant);
    // A charge's key must outlive any retry of it: at the tenant's cap, refuse rather than forget one.
    const wait = this.idempotency.roomFor(space, now);
    if (wait > 0) throw tooManyRecords(tenant, wait);
    const entry = this.subjectEntry(request.subject);
    const unit = request.actual.unit;
    const rows = this.catalog.budgetedRows(entry, unit, now, tenant, false);
    if (rows.length === 0) throw this.catalog.unitMismatch(entry, unit) ?? notFound(entry);
    // Events are blocked only by ledger status: debt and the over-limit flag do not block them.
    for (const row of rows) guardStatus(row);
    const actual = request.actual.amount;
    const policy = this.overagePolicy(request.overagePolicy, rows, settings);
    const plan = planOverage(rows, actual, policy);
    if (!plan.ok) throw overageError(plan.code, rows[plan.index]!, actual, now);
    const before = this.hooks?.snapshot(rows);
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      const scope = plan.scopes[i]!;
      row.remaining -= plan.extra;
      row.spent += scope.spent;
      row.debt += scope.debt;
      if (scope.flag) row.isOverLimit = true;
    }
    if (before !== undefined) {
      this.hooks!.changed(before, rows, context, { overagePolicy: policy }, undefined, now);
    }
    const response: EventResponse = {
      status: 'APPLIED',
      eventId: this.ids.next('evt_'),
    };
    if (this.includeBalances) response.balances = rows.map(toBalance);
    if (plan.extra < actual) response.charged = { unit, amount: plan.extra };
    // Events keep their key for 7 days (Ref): a replay inside the window must never charge twice.
    const expiresAtMs = now + this.eventRetentionMs;
    this.idempotency.store(space, request.idempotencyKey, print, response, expiresAtMs, 'durable', now);
    return { ...response };
  }

  async getBalances(query: BalancesQuery, context?: CallContext): Promise<BalancesResponse> {
    validateInput.balancesQuery(query);
    const now = this.tick();
    const tenant = lower(context?.tenant);
    guardQueriedTenant(tenant, query.tenant, 'Balances');
    return memoryBalancesPage(this.catalog.ledgers.values(), query, tenant, now);
  }

  async getReservation(reservationId: string, context?: CallContext): Promise<ReservationDetail> {
    validateInput.reservationId(reservationId);
    this.tick();
    const reservation = this.reservationFor(reservationId, context);
    if (reservation.status === 'EXPIRED') throw expiredError(reservation);
    return toDetail(reservation);
  }

  async listReservations(
    query: ListReservationsQuery,
    context?: CallContext,
  ): Promise<ListReservationsResponse> {
    validateInput.listQuery(query);
    this.tick();
    const tenant = lower(context?.tenant);
    guardQueriedTenant(tenant, query.tenant, 'Reservations');
    return queryReservations(this.reservations.values(), query, tenant, rowNaming);
  }

  async close(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  // ---- provisioning -----------------------------------------------------------------------------

  async createLedger(definition: LedgerDefinition) {
    return toState(this.catalog.putLedger(definition));
  }

  async fund(request: FundingRequest): Promise<FundingResult> {
    const row = this.catalog.adminRow(request.scope, request.unit);
    const funding = request.funding;
    checkFundingAmount(funding);
    const now = this.clock.now();
    const space = this.idempotency.space('', `fund|${row.scope}|${row.unit}`);
    const key = request.idempotencyKey;
    const print = fundingFingerprint(funding, request.reason);
    if (key !== undefined) {
      const replay = this.idempotency.lookup<FundingResult>(space, key, print, now);
      if (replay !== undefined) return replay.response;
    }
    rollWindow(row, now);
    const before = this.hooks?.snapshot([row]);
    const result = applyFunding(row, funding, now);
    if (before !== undefined) this.hooks!.changed(before, [row], undefined, undefined, undefined, now);
    this.catalog.adopt(row);
    if (key !== undefined) this.remember(space, key, print, result, 'durable', now);
    return result;
  }

  async setLedgerStatus(scope: string, unit: Unit, status: LedgerStatus) {
    return this.catalog.setStatus(scope, unit, status);
  }

  async updateLedger(
    scope: string,
    unit: Unit,
    changes: Partial<Pick<LedgerDefinition, 'overdraftLimit' | 'caps' | 'commitOveragePolicy'>>,
  ) {
    return this.catalog.update(scope, unit, changes);
  }

  async removeLedger(scope: string, unit: Unit) {
    return this.catalog.remove(scope, unit, this.tick());
  }

  async getLedger(scope: string, unit: Unit) {
    const row = this.catalog.find(scope, unit);
    if (row === undefined) return undefined;
    rollWindow(row, this.tick());
    return toState(row);
  }

  async listLedgers() {
    return this.catalog.list(this.tick());
  }

  async addTemplate(template: LedgerTemplate) {
    this.catalog.putTemplate(template);
  }

  async setTenant(tenant: string, settings: TenantSettings) {
    this.catalog.putTenant(tenant, settings);
  }

  async closeTenant(tenant: string, settings: TenantSettings): Promise<TenantClosing> {
    const checked = validateClosingSettings(settings);
    const now = this.tick();
    const name = tenant.toLowerCase();
    // No await from here on: the flip and the releases are one step, so no reserve or settlement of the
    // tenant can land between them.
    this.catalog.putTenant(name, checked);
    const released: TenantClosing['released'] = [];
    for (const reservation of this.reservations.activeOf(name)) {
      const estimate = reservation.estimate;
      const before = this.hooks?.snapshot(reservation.rows);
      for (const row of reservation.rows) {
        rollWindow(row, now);
        row.reserved -= estimate;
        row.remaining += estimate;
      }
      if (before !== undefined)
        this.hooks!.changed(before, reservation.rows, undefined, undefined, undefined, now);
      released.push({
        reservationId: reservationIdOf(reservation),
        unit: reservation.unit,
        amount: estimate,
        scopes: reservation.rows.map((row) => row.scope),
      });
      this.reservations.end(reservation, 'RELEASED', now);
    }
    return { released };
  }

  async getTenant(tenant: string) {
    const settings = this.catalog.settingsOf(tenant.toLowerCase());
    return settings === undefined ? undefined : { ...settings };
  }

  async templateLedgerCounts() {
    this.catalog.dropEnded(this.tick());
    return this.catalog.templateLedgerCounts();
  }

  async sweepExpired(): Promise<number> {
    return this.sweep(this.clock.now());
  }

  // ---- internals --------------------------------------------------------------------------------

  /** Reads the clock and expires anything past its deadline first (lazy expiry: no sweeper lag). */
  private tick(): number {
    const now = this.clock.now();
    if (now > this.reservations.nextDeadline) this.sweep(now);
    return now;
  }

  private sweep(now: number): number {
    const expired = this.reservations.expire(now);
    this.idempotency.prune(now);
    this.reservations.prune(now);
    this.catalog.dropEnded(now);
    return expired;
  }

  /** 404 for an unknown id, 403 for another tenant's reservation. */
  private reservationFor(reservationId: string, context: CallContext | undefined): ReservationRow {
    const reservation = this.reservations.get(reservationId);
    if (reservation === undefined) {
      throw reservationNotFound(reservationId);
    }
    // Tenancy is checked before same-key replay so another tenant can never read a stored outcome.
    const caller = lower(context?.tenant);
    if (caller !== undefined && reservation.tenant !== caller) {
      throw reservationOfAnotherTenant(reservationId);
    }
    return reservation;
  }

  /** Closed tenant (beats EXPIRED and FINALIZED), then EXPIRED 410, then FINALIZED 409. */
  private guardOpen(reservation: ReservationRow): void {
    if (this.catalog.settingsOf(reservation.tenant)?.status === 'CLOSED') {
      throw tenantClosed(reservation.tenant);
    }
    if (reservation.status === 'EXPIRED') throw expiredError(reservation);
    if (reservation.status !== 'ACTIVE') {
      throw reservationFinalized(reservationIdOf(reservation), reservation.status);
    }
  }

  /** 410 past expiry + grace (normally already expired by tick(); kept for clarity at the boundary). */
  private guardGrace(reservation: ReservationRow, now: number): void {
    if (now > reservation.expiresAtMs + reservation.graceMs) throw expiredError(reservation);
  }

  private remainingTtl(reservation: ReservationRow | undefined, now: number): number {
    if (reservation === undefined || reservation.status !== 'ACTIVE') return 0;
    return Math.max(0, reservation.expiresAtMs - now);
  }

  private replayReserve(stored: ReserveResponse | LiveReserve, now: number): ReserveResponse {
    if (isLiveReserve(stored)) {
      const reservation = this.reservations.getBySequence(stored.sequence);
      return liveReserveResponse(
        stored,
        this.ids.reservationId(stored.sequence),
        this.remainingTtl(reservation, now),
      );
    }
    return { ...stored };
  }

  /** Stores a dry_run or DENY outcome of a reserve (no hold, so losing it only re-evaluates). */
  private storeReserve(
    space: IdempotencySpace,
    key: string,
    print: number,
    now: number,
    response: ReserveResponse,
  ): ReserveResponse {
    this.remember(space, key, print, response, 'replaceable', now);
    return { ...response };
  }

  /** Stores an outcome for the default retention. */
  private remember<T>(
    space: IdempotencySpace,
    key: string,
    print: number,
    response: T,
    kind: RecordClass,
    now: number,
  ): IdempotencyRecord<T> {
    return this.idempotency.store(space, key, print, response, now + this.idempotencyRetentionMs, kind, now);
  }

  private subjectEntry(subject: Subject): SubjectEntry {
    return this.subjects.get(subject);
  }

  /**
   * Overage policy precedence: request > ledger (deepest budgeted ledger that sets one) > tenant default >
   * ALLOW_IF_AVAILABLE. Ref skips the ledger level; the ledger override is this project's design.
   */
  private overagePolicy(
    requested: OveragePolicy | undefined,
    rows: readonly LedgerRow[],
    settings: TenantSettings | undefined,
  ): OveragePolicy {
    if (requested !== undefined) return requested;
    for (let i = rows.length - 1; i >= 0; i--) {
      const policy = rows[i]!.commitOveragePolicy;
      if (policy !== undefined) return policy;
    }
    return settings?.defaultCommitOveragePolicy ?? 'ALLOW_IF_AVAILABLE';
  }
}

export { type LedgerConfig, loadLedgerConfig, parseLedgerConfig } from './config-file.ts';
