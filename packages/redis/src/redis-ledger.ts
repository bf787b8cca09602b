import { randomBytes } from 'node:crypto';
import {
  affectedScopes,
  type BalancesQuery,
  type BalancesResponse,
  type CallContext,
  type Clock,
  type CommitRequest,
  type CommitResponse,
  createMemoryLedger,
  type DecideRequest,
  type DecideResponse,
  type EventRequest,
  type EventResponse,
  type ExtendRequest,
  type ExtendResponse,
  ForbiddenError,
  type FundingRequest,
  type FundingResult,
  InvalidRequestError,
  type Ledger,
  type LedgerDefinition,
  type LedgerEvents,
  type LedgerEventsOptions,
  type LedgerState,
  type LedgerStatus,
  type LedgerTemplate,
  type ListReservationsQuery,
  type ListReservationsResponse,
  NotFoundError,
  type ReleaseRequest,
  type ReleaseResponse,
  type ReservationDetail,
  type ReserveRequest,
  type ReserveResponse,
  type Subject,
  type TemplateLedgerCounts,
  type TenantSettings,
  type Unit,
  validateCommit,
  validateDecide,
  validateEvent,
  validateExtend,
  validateRelease,
  validateReservationId,
  validateReserve,
} from '@cycles-guard/core';
import { decodeCursor, page, validateBalancesQuery, validateListQuery } from '@cycles-guard/core/ledger-kit';
import type { Redis } from 'ioredis';
import { LedgerConnection, type OperationName, type Reply, throwIfError } from './connection.ts';
import { amount, asList, type RowReply, toBalance, toState } from './ledger-views.ts';
import { redisOutboxWiring } from './outbox.ts';
import { canonicalJson, commitPayload, decidePayload, eventPayload, reservePayload } from './payloads.ts';
import {
  capsSet,
  checkedDefinition,
  checkedScope,
  checkTemplate,
  checkTenantSettings,
  definitionJson,
} from './provisioning-input.ts';
import { RedisLedgerEvents } from './redis-ledger-events.ts';
import { queryReservations, type ReservationView, toDetail } from './reservation-views.ts';
import type { ScriptMode } from './script.ts';

/** Options of {@link createRedisLedger}. */
export interface RedisLedgerOptions {
  /** Redis URL (default `redis://127.0.0.1:6379`); ignored when `client` is given. */
  url?: string;
  /** An ioredis client to use (not closed by `close()`). */
  client?: Redis;
  /** Prefix of every key (default `cycles:`). Instances sharing a budget must share the prefix. */
  keyPrefix?: string;
  /**
   * Source of "now" passed to every script. Default: none, the scripts read Redis `TIME`, so every
   * instance agrees on time whatever its own clock says. Pass a ManualClock in tests.
   */
  clock?: Clock;
  /** How long an operation may take before it fails closed with AuthorityUnavailableError (default 2000). */
  operationTimeoutMs?: number;
  /** How often this instance sweeps expired reservations (default 5000; 0 disables; unref'd). */
  sweepIntervalMs?: number;
  /** How long idempotency records are kept (default 24 h; a live reserve's key at least TTL + grace). */
  idempotencyRetentionMs?: number;
  /** How long finalized or expired reservations stay readable (default 1 h). */
  reservationRetentionMs?: number;
  /**
   * Most reservations one tenant may hold, live and retained (default 50,000; the tenant setting
   * `maxReservations` overrides it); as the memory ledger's option of the same name.
   */
  maxReservationsPerTenant?: number;
  /** A finished reservation is kept at least this long, even at its tenant's bound (default 1 min). */
  reservationReplayWindowMs?: number;
  /**
   * `function` (default): the Lua library is loaded once per server with FUNCTION LOAD and each
   * operation is an FCALL (Redis ≥ 7; falls back to `eval` on older servers). `eval`: EVALSHA of the
   * library plus the operation body on every call. Both run each operation as one atomic Lua call.
   */
  scriptMode?: ScriptMode;
  /** Put a balance snapshot on live reserve, commit, release, extend and event responses (default false). */
  includeBalances?: boolean;
  // ---- template bounds (as the memory ledger's; see README "A flood of new subjects") ----
  /** Most live template ledgers in all (default 50,000); a new one past it is refused with INVALID_REQUEST. */
  maxTemplateLedgers?: number;
  /** Most live template ledgers per tenant (default 1,000; a tenant's `maxTemplateLedgers` setting wins). */
  maxTemplateLedgersPerTenant?: number;
  /**
   * How long past its window end an idle template ledger's key lives (default 1 h): its TTL, set whenever
   * it is written holding and owing nothing. A margin for clocks, since the next use starts afresh anyway.
   */
  templateLedgerRetentionMs?: number;
  /**
   * Protocol events (as the memory ledger's option): kept in this Redis, 10,000 per tenant, so every
   * server on it lists the same ones. `false` turns them off.
   */
  events?: LedgerEventsOptions | false;
}

/** The Redis ledger: core's `Ledger` (runtime protocol + provisioning) plus `close()`. */
export interface RedisLedger extends Ledger {
  close(): Promise<void>;
  /** The ioredis client in use (for health checks). */
  readonly client: Redis;
}

/** What the runtime scripts store and replay (numbers as decimal strings). */
interface Outcome {
  d?: string;
  reason?: string;
  retry?: string;
  hold?: string;
  partial?: boolean;
  caps?: string;
  id?: string;
  exp?: string;
  ttl?: string;
  bal?: RowReply[];
  unit?: string;
  charged?: string;
  released?: string;
  previous?: string[];
  current?: RowReply;
}

const SWEEP_BATCH = 500;
const LEVELS = ['tenant', 'workspace', 'app', 'workflow', 'agent', 'toolset'] as const;

function lower(value: string | undefined): string | undefined {
  return value === undefined ? undefined : value.toLowerCase();
}

function flag(value: boolean): string {
  return value ? '1' : '0';
}

function text(value: number | undefined): string {
  return value === undefined ? '' : String(value);
}

/**
 * Creates a ledger on Redis. Every operation is one Lua script run atomically on the server, so any
 * number of processes sharing the Redis (and key prefix) share one budget exactly.
 */
export function createRedisLedger(options: RedisLedgerOptions = {}): RedisLedger {
  const ledger = new RedisLedgerImpl(options);
  // Core's settlement outbox keeps unconfirmed settlements in this Redis (outbox.ts).
  return Object.assign(ledger, redisOutboxWiring(ledger.client, options));
}

class RedisLedgerImpl implements RedisLedger {
  private readonly connection: LedgerConnection;
  private readonly clock: Clock | undefined;
  private readonly includeBalances: boolean;
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly instanceId = randomBytes(6).toString('base64url');
  private idCounter = 0;
  private readonly templateBounds: { limit: number; perTenantLimit: number };
  private readonly hooks: RedisLedgerEvents | undefined;
  /** Protocol events; `events: false` turns them off. */
  readonly events: LedgerEvents | undefined;
  /** Ask the scripts for balances: the caller wants them, or events are derived from them. */
  private readonly wantBalances: boolean;

  constructor(options: RedisLedgerOptions) {
    this.clock = options.clock;
    this.templateBounds = checkedTemplateBounds(options);
    this.includeBalances = options.includeBalances === true;
    this.connection = new LedgerConnection({
      ...(options.url === undefined ? {} : { url: options.url }),
      ...(options.client === undefined ? {} : { client: options.client }),
      prefix: options.keyPrefix ?? 'cycles:',
      timeoutMs: options.operationTimeoutMs ?? 2000,
      scriptMode: options.scriptMode ?? 'function',
      header: [
        String(options.reservationRetentionMs ?? 3_600_000),
        String(options.maxReservationsPerTenant ?? 50_000),
        String(options.idempotencyRetentionMs ?? 86_400_000),
        String(options.reservationReplayWindowMs ?? 60_000),
        String(this.templateBounds.limit),
        String(this.templateBounds.perTenantLimit),
        String(options.templateLedgerRetentionMs ?? 3_600_000),
      ],
    });
    if (options.events !== false) {
      const prefix = options.keyPrefix ?? 'cycles:';
      this.hooks = new RedisLedgerEvents(this.connection.client, prefix, options.events ?? {}, options.clock);
      this.events = this.hooks.log;
    }
    this.wantBalances = this.includeBalances || this.hooks !== undefined;
    const interval = options.sweepIntervalMs ?? 5000;
    if (interval > 0) {
      this.timer = setInterval(() => {
        this.sweepExpired().catch(() => {});
      }, interval);
      this.timer.unref?.();
    }
  }

  get client(): Redis {
    return this.connection.client;
  }

  /** Runs an operation at the clock's now (undefined: the script reads Redis TIME). */
  private run(operation: OperationName, args: string[]): Promise<Reply> {
    return this.connection.exec(operation, args, this.clock?.now());
  }

  // ---- runtime protocol -------------------------------------------------------------------------

  async reserve(request: ReserveRequest, context?: CallContext): Promise<ReserveResponse> {
    validateReserve(request);
    const tenant = this.guardSubject(request.subject, context);
    const namespace = `${lower(context?.tenant) ?? tenant ?? ''}|reserve|${request.idempotencyKey}`;
    const scopes = affectedScopes(request.subject);
    const scopePath = scopes[scopes.length - 1]!;
    const record = JSON.stringify({
      subject: { ...request.subject },
      action: request.action,
      idempotencyKey: request.idempotencyKey,
      metadata: request.metadata,
      scopePath,
      affectedScopes: scopes,
    });
    const reply = await this.run('reserve', [
      namespace,
      reservePayload(request),
      tenant ?? '',
      flag(request.dryRun === true),
      request.estimate.unit,
      String(request.estimate.amount),
      text(request.minimum),
      text(request.ttlMs),
      text(request.gracePeriodMs),
      request.overagePolicy ?? '',
      flag(this.wantBalances),
      record,
      this.nextReservationId(),
      ...scopes,
    ]);
    try {
      throwIfError(reply, { idempotencyKey: request.idempotencyKey });
    } catch (error) {
      if (reply.replay === undefined) this.hooks?.denied(error, request, tenant, scopePath, context);
      throw error;
    }
    const outcome = JSON.parse(reply.replay ?? reply.outcome!) as Outcome;
    if (reply.replay === undefined && request.observeMode === true && outcome.id === undefined) {
      this.hooks?.observed(
        request,
        tenant,
        scopePath,
        outcome.d!,
        outcome.reason,
        amount(outcome.hold ?? '0'),
        context,
      );
    }
    const unit = request.estimate.unit;
    const response: ReserveResponse = {
      decision: outcome.d as ReserveResponse['decision'],
      affectedScopes: scopes,
    };
    if (outcome.d === 'DENY') {
      response.scopePath = scopePath;
      response.reasonCode = outcome.reason as ReserveResponse['reasonCode'];
      if (outcome.retry !== undefined) response.retryAfterMs = amount(outcome.retry);
      if (outcome.bal !== undefined) response.balances = asList<RowReply>(outcome.bal).map(toBalance);
      return response;
    }
    response.reserved = { unit, amount: amount(outcome.hold!) };
    response.scopePath = scopePath;
    if (outcome.caps !== undefined) response.caps = JSON.parse(outcome.caps);
    if (outcome.partial === true) response.partial = true;
    const live = outcome.id !== undefined;
    if (outcome.bal !== undefined && (!live || this.includeBalances)) {
      response.balances = asList<RowReply>(outcome.bal).map(toBalance);
    }
    if (live && reply.replay === undefined) {
      this.hooks?.reserved(
        outcome.id!,
        amount(outcome.hold!),
        request,
        tenant,
        scopePath,
        outcome.bal,
        context,
      );
    }
    if (outcome.id !== undefined) {
      response.reservationId = outcome.id;
      response.expiresAtMs = amount(outcome.exp!);
      response.remainingTtlMs = amount(reply.replay === undefined ? outcome.ttl! : reply.ttl!);
    }
    return response;
  }

  async commit(
    reservationId: string,
    request: CommitRequest,
    context?: CallContext,
  ): Promise<CommitResponse> {
    validateReservationId(reservationId);
    validateCommit(request);
    const reply = await this.run('commit', [
      reservationId,
      lower(context?.tenant) ?? '',
      request.idempotencyKey,
      commitPayload(request),
      request.actual.unit,
      String(request.actual.amount),
      request.metadata === undefined ? '' : JSON.stringify(request.metadata),
      flag(this.wantBalances),
    ]);
    throwIfError(reply, { overage: true });
    const outcome = JSON.parse(reply.replay ?? reply.outcome!) as Outcome;
    const unit = request.actual.unit;
    const response: CommitResponse = {
      status: 'COMMITTED',
      charged: { unit, amount: amount(outcome.charged!) },
    };
    if (outcome.released !== undefined) response.released = { unit, amount: amount(outcome.released) };
    if (outcome.bal !== undefined && this.includeBalances) {
      response.balances = asList<RowReply>(outcome.bal).map(toBalance);
    }
    if (reply.replay === undefined) {
      this.hooks?.committed(
        reservationId,
        request,
        response.charged.amount,
        response.released?.amount,
        outcome.bal,
        context,
      );
    }
    return response;
  }

  async release(
    reservationId: string,
    request: ReleaseRequest,
    context?: CallContext,
  ): Promise<ReleaseResponse> {
    validateReservationId(reservationId);
    validateRelease(request);
    const reply = await this.run('release', [
      reservationId,
      lower(context?.tenant) ?? '',
      request.idempotencyKey,
      canonicalJson([request.reason]),
      flag(this.wantBalances),
    ]);
    throwIfError(reply);
    const outcome = JSON.parse(reply.replay ?? reply.outcome!) as Outcome;
    const rows = asList<RowReply>(outcome.bal);
    const response: ReleaseResponse = {
      status: 'RELEASED',
      released: { unit: outcome.unit as Unit, amount: amount(outcome.released!) },
    };
    if (outcome.bal !== undefined && this.includeBalances) response.balances = rows.map(toBalance);
    if (reply.replay === undefined)
      this.hooks?.released(reservationId, response.released.amount, outcome.bal, context);
    return response;
  }

  async extend(
    reservationId: string,
    request: ExtendRequest,
    context?: CallContext,
  ): Promise<ExtendResponse> {
    validateReservationId(reservationId);
    validateExtend(request);
    const reply = await this.run('extend', [
      reservationId,
      lower(context?.tenant) ?? '',
      request.idempotencyKey,
      canonicalJson([request.extendByMs, request.metadata]),
      String(request.extendByMs),
      flag(this.includeBalances),
    ]);
    throwIfError(reply);
    const outcome = JSON.parse(reply.replay ?? reply.outcome!) as Outcome;
    const response: ExtendResponse = {
      status: 'ACTIVE',
      expiresAtMs: amount(outcome.exp!),
      remainingTtlMs: amount(reply.replay === undefined ? outcome.ttl! : reply.ttl!),
    };
    if (outcome.bal !== undefined) response.balances = asList<RowReply>(outcome.bal).map(toBalance);
    return response;
  }

  async decide(request: DecideRequest, context?: CallContext): Promise<DecideResponse> {
    validateDecide(request);
    const tenant = this.guardSubject(request.subject, context);
    const namespace = `${lower(context?.tenant) ?? tenant ?? ''}|decide|${request.idempotencyKey}`;
    const scopes = affectedScopes(request.subject);
    const reply = await this.run('decide', [
      namespace,
      decidePayload(request),
      tenant ?? '',
      request.estimate.unit,
      String(request.estimate.amount),
      ...scopes,
    ]);
    throwIfError(reply, { idempotencyKey: request.idempotencyKey });
    const outcome = JSON.parse(reply.replay ?? reply.outcome!) as Outcome;
    const response: DecideResponse = {
      decision: outcome.d as DecideResponse['decision'],
      affectedScopes: scopes,
    };
    if (outcome.reason !== undefined) response.reasonCode = outcome.reason as DecideResponse['reasonCode'];
    if (outcome.retry !== undefined) response.retryAfterMs = amount(outcome.retry);
    if (outcome.caps !== undefined) response.caps = JSON.parse(outcome.caps);
    return response;
  }

  async createEvent(request: EventRequest, context?: CallContext): Promise<EventResponse> {
    validateEvent(request);
    const tenant = this.guardSubject(request.subject, context);
    const namespace = `${lower(context?.tenant) ?? tenant ?? ''}|event|${request.idempotencyKey}`;
    const reply = await this.run('event', [
      namespace,
      eventPayload(request),
      tenant ?? '',
      request.actual.unit,
      String(request.actual.amount),
      request.overagePolicy ?? '',
      flag(this.wantBalances),
      ...affectedScopes(request.subject),
    ]);
    throwIfError(reply, { overage: true, idempotencyKey: request.idempotencyKey });
    const outcome = JSON.parse(reply.replay ?? reply.outcome!) as Outcome;
    const response: EventResponse = { status: 'APPLIED', eventId: outcome.id! };
    if (outcome.bal !== undefined && this.includeBalances) {
      response.balances = asList<RowReply>(outcome.bal).map(toBalance);
    }
    if (outcome.charged !== undefined) {
      response.charged = { unit: request.actual.unit, amount: amount(outcome.charged) };
    }
    if (reply.replay === undefined) {
      this.hooks?.debited(response.charged?.amount ?? request.actual.amount, outcome.bal, context);
    }
    return response;
  }

  async getBalances(query: BalancesQuery, context?: CallContext): Promise<BalancesResponse> {
    validateBalancesQuery(query);
    const tenant = lower(context?.tenant);
    if (
      tenant !== undefined &&
      query.tenant !== undefined &&
      query.tenant !== '' &&
      query.tenant.toLowerCase() !== tenant
    ) {
      throw new ForbiddenError('Balances of another tenant', { details: { tenant: query.tenant } });
    }
    const wanted: string[] = [];
    for (const level of LEVELS) {
      const value = query[level];
      if (value !== undefined && value !== '') wanted.push(`${level}:${value.toLowerCase()}`);
    }
    const reply = await this.run('balances', [tenant ?? '', ...wanted]);
    const rows = asList<RowReply>(reply.rows);
    rows.sort((a, b) => (a[1] === b[1] ? compare(a[2]!, b[2]!) : compare(a[1]!, b[1]!)));
    const result = page(rows, decodeCursor(query.cursor), query.limit ?? 50);
    const response: BalancesResponse = { balances: result.items.map(toBalance), hasMore: result.hasMore };
    if (result.nextCursor !== undefined) response.nextCursor = result.nextCursor;
    return response;
  }

  async getReservation(reservationId: string, context?: CallContext): Promise<ReservationDetail> {
    validateReservationId(reservationId);
    const reply = await this.run('getReservation', [reservationId, lower(context?.tenant) ?? '']);
    throwIfError(reply);
    return toDetail(reply.rsv!);
  }

  async listReservations(
    query: ListReservationsQuery,
    context?: CallContext,
  ): Promise<ListReservationsResponse> {
    validateListQuery(query);
    const tenant = lower(context?.tenant);
    if (
      tenant !== undefined &&
      query.tenant !== undefined &&
      query.tenant !== '' &&
      query.tenant.toLowerCase() !== tenant
    ) {
      throw new ForbiddenError('Reservations of another tenant', { details: { tenant: query.tenant } });
    }
    const reply = await this.run('listReservations', [tenant ?? '']);
    return queryReservations(asList<ReservationView>(reply.list), query);
  }

  async close(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.connection.close();
  }

  // ---- provisioning -----------------------------------------------------------------------------

  async createLedger(definition: LedgerDefinition): Promise<LedgerState> {
    const checked = checkedDefinition(definition);
    const reply = await this.run('createLedger', [definitionJson(checked)]);
    throwIfError(reply);
    return toState(asList<RowReply>(reply.rows)[0]!);
  }

  async fund(request: FundingRequest): Promise<FundingResult> {
    const scope = checkedScope(request.scope);
    const funding = request.funding;
    const amountOk = Number.isSafeInteger(funding?.amount) && funding.amount >= 0;
    const spent = funding?.operation === 'RESET_SPENT' ? funding.spent : undefined;
    const spentOk = spent === undefined || (Number.isSafeInteger(spent) && spent >= 0);
    const reply = await this.run('fund', [
      `${scope}|${request.unit}`,
      `fund|${scope}|${request.unit}|${request.idempotencyKey ?? ''}`,
      canonicalJson([funding, request.reason]),
      flag(request.idempotencyKey !== undefined),
      String(funding?.operation ?? ''),
      amountOk ? String(funding.amount) : '0',
      spentOk && spent !== undefined ? String(spent) : '',
      flag(amountOk),
      flag(spentOk),
    ]);
    throwIfError(
      reply,
      request.idempotencyKey === undefined ? {} : { idempotencyKey: request.idempotencyKey },
    );
    const outcome = JSON.parse(reply.replay ?? reply.outcome!) as Outcome;
    const [allocated, remaining, debt, spentBefore] = outcome.previous!.map(amount);
    return {
      previous: { allocated: allocated!, remaining: remaining!, debt: debt!, spent: spentBefore! },
      current: toState(outcome.current!),
    };
  }

  async setLedgerStatus(scope: string, unit: Unit, status: LedgerStatus): Promise<LedgerState> {
    const path = checkedScope(scope);
    const changed = await this.run('setStatus', [`${path}|${unit}`, status]);
    throwIfError(changed);
    return toState(asList<RowReply>(changed.rows)[0]!);
  }

  async updateLedger(
    scope: string,
    unit: Unit,
    changes: Partial<Pick<LedgerDefinition, 'overdraftLimit' | 'caps' | 'commitOveragePolicy'>>,
  ): Promise<LedgerState> {
    const path = checkedScope(scope);
    const current = await this.getLedger(path, unit);
    if (current === undefined) throw noLedger(path, unit);
    const checked = checkedDefinition(
      { scope: path, unit, allocated: Math.max(0, current.allocated), ...changes },
      'changes',
    );
    const update: Record<string, string> = {};
    if ('overdraftLimit' in changes) update.limit = String(checked.overdraftLimit ?? 0);
    if ('caps' in changes) {
      update.caps = checked.caps === undefined ? '' : JSON.stringify(checked.caps);
      update.hasCaps = flag(capsSet(checked.caps));
    }
    if ('commitOveragePolicy' in changes) update.policy = checked.commitOveragePolicy ?? '';
    const reply = await this.run('updateLedger', [`${path}|${unit}`, JSON.stringify(update)]);
    throwIfError(reply);
    return toState(asList<RowReply>(reply.rows)[0]!);
  }

  async removeLedger(scope: string, unit: Unit): Promise<LedgerState> {
    const path = checkedScope(scope);
    const reply = await this.run('removeLedger', [`${path}|${unit}`]);
    throwIfError(reply);
    return toState(asList<RowReply>(reply.rows)[0]!);
  }

  async getLedger(scope: string, unit: Unit): Promise<LedgerState | undefined> {
    const path = checkedScope(scope);
    const reply = await this.run('getLedger', [`${path}|${unit}`]);
    const row = asList<RowReply>(reply.rows)[0];
    return row === undefined ? undefined : toState(row);
  }

  async listLedgers(): Promise<LedgerState[]> {
    const reply = await this.run('listLedgers', []);
    return asList<RowReply>(reply.rows).map(toState);
  }

  async addTemplate(template: LedgerTemplate): Promise<void> {
    const checked = checkTemplate(template);
    await this.run('addTemplate', [definitionJson(checked)]);
  }

  async setTenant(tenant: string, settings: TenantSettings): Promise<void> {
    checkTenantSettings(tenant, settings);
    const fields: string[] = [];
    for (const [name, value] of Object.entries(settings)) {
      if (value !== undefined) fields.push(name, String(value));
    }
    await this.run('setTenant', [tenant.toLowerCase(), ...fields]);
  }

  async templateLedgerCounts(): Promise<TemplateLedgerCounts> {
    const reply = await this.run('templateCounts', []);
    const byTenant: Record<string, number> = {};
    const list = asList<[string, string]>(reply.list).sort(([a], [b]) => compare(a, b));
    for (const [tenant, count] of list) byTenant[tenant] = amount(count);
    return { total: amount(reply.count!), ...this.templateBounds, byTenant };
  }

  async sweepExpired(): Promise<number> {
    const now = this.clock?.now();
    let total = 0;
    for (;;) {
      const reply = await this.connection.exec('sweep', [String(SWEEP_BATCH)], now);
      const count = amount(reply.count!);
      total += count;
      // Retention is pruned in the same batches: go on while either batch was full.
      if (count < SWEEP_BATCH && amount(reply.pruned!) < SWEEP_BATCH) return total;
    }
  }

  // ---- internals --------------------------------------------------------------------------------

  /**
   * A reservation id, unique across instances (random instance part) and increasing within one
   * instance, made here to save the script a round trip to a shared counter. Unused on a replay.
   */
  private nextReservationId(): string {
    this.idCounter += 1;
    return `rsv_${this.instanceId}${this.idCounter.toString(36).padStart(10, '0')}`;
  }

  /** 403 when the caller's tenant differs from the subject's; returns the (lower-cased) subject tenant. */
  private guardSubject(subject: Subject, context: CallContext | undefined): string | undefined {
    const tenant = lower(subject.tenant);
    const caller = context?.tenant;
    if (caller !== undefined && tenant !== undefined && tenant !== caller.toLowerCase()) {
      throw new ForbiddenError(`Subject tenant ${subject.tenant} is not the caller's tenant`, {
        details: { tenant: subject.tenant },
      });
    }
    return tenant ?? lower(caller);
  }
}

/**
 * The template bounds, checked with core's rules (a scratch memory ledger refuses bad ones); the defaults
 * are the memory ledger's (a test compares them).
 */
function checkedTemplateBounds(options: RedisLedgerOptions): { limit: number; perTenantLimit: number } {
  const limit = options.maxTemplateLedgers ?? 50_000;
  const perTenantLimit = options.maxTemplateLedgersPerTenant ?? 1_000;
  createMemoryLedger({
    sweepIntervalMs: 0,
    maxTemplateLedgers: limit,
    maxTemplateLedgersPerTenant: perTenantLimit,
  });
  const retention = options.templateLedgerRetentionMs;
  if (retention !== undefined && !(Number.isSafeInteger(retention) && retention >= 0)) {
    throw new InvalidRequestError(
      `templateLedgerRetentionMs must be an integer ≥ 0 (got ${String(retention)}): fix the templateLedgerRetentionMs option`,
      { details: { field: 'templateLedgerRetentionMs' } },
    );
  }
  return { limit, perTenantLimit };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function noLedger(scope: string, unit: Unit): NotFoundError {
  return new NotFoundError(`No ${unit} budget for ${scope}`, { details: { scope, unit } });
}
