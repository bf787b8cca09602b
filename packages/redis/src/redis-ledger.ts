import { randomBytes } from 'node:crypto';
import type { Ledger, LedgerState, Subject } from '@cycles-guard/core';
import { InvalidRequestError, NotFoundError } from '@cycles-guard/core';
import type { Clock, LedgerEvents } from '@cycles-guard/core/ledger-kit';
import {
  affectedScopes,
  balancesPage,
  capsSet,
  commitFingerprint,
  compareText,
  countOption,
  decideFingerprint,
  denyDetailOf,
  eventFingerprint,
  extendFingerprint,
  fundingFingerprint,
  guardQueriedTenant,
  guardSubject,
  LEDGER_DEFAULTS,
  normalizeScope,
  queryReservations,
  releaseFingerprint,
  reservationDetail,
  reserveFingerprint,
  scopeTenant,
  storedNaming,
  type TemplateBounds,
  templateBounds,
  validateClosingSettings,
  validateDefinition,
  validateInput,
  validateTemplate,
  validateTenantSettings,
  wantedSegments,
} from '@cycles-guard/core/ledger-kit';
import type {
  BalancesQuery,
  BalancesResponse,
  CallContext,
  CommitRequest,
  CommitResponse,
  DecideRequest,
  DecideResponse,
  DenyDetail,
  EventRequest,
  EventResponse,
  ExtendRequest,
  ExtendResponse,
  FundingRequest,
  FundingResult,
  LedgerDefinition,
  LedgerStatus,
  LedgerTemplate,
  ListReservationsQuery,
  ListReservationsResponse,
  ReleaseRequest,
  ReleaseResponse,
  ReservationDetail,
  ReserveRequest,
  ReserveResponse,
  TemplateLedgerCounts,
  TenantClosing,
  TenantSettings,
  Unit,
} from '@cycles-guard/core/protocol';
import type { LedgerEventsOptions } from '@cycles-guard/core/webhooks';
import type { Cluster, ClusterNode, Redis } from 'ioredis';
import {
  type ConnectionOptions,
  LedgerConnection,
  type OperationName,
  outcomeOf,
  type Reply,
  throwIfError,
} from './connection.ts';
import { definitionJson } from './definition-json.ts';
import { checkClusterKeyPrefix, reservationTag } from './keys.ts';
import { amount, asList, balancesOf, type RowReply, toState } from './ledger-views.ts';
import { redisOutboxWiring } from './outbox.ts';
import { Partitions } from './partitions.ts';
import { RedisLedgerEvents } from './redis-ledger-events.ts';
import { encodeRecord, type ReservationView, toStored } from './reservation-views.ts';
import type { ScriptMode } from './script.ts';
import { readTenantHash, tenantSettingsOf } from './tenant-settings.ts';

/** Options of {@link createRedisLedger}. */
export interface RedisLedgerOptions {
  /** Redis URL (default `redis://127.0.0.1:6379`, also when `undefined`); ignored when `client` is given. */
  url?: string | undefined;
  /**
   * Redis Cluster seed nodes (`'host:port'` or `{ host, port }`): the ledger opens an ioredis `Cluster`
   * and gives every key its tenant's hash tag (README "Redis Cluster"). Ignored when `client` is given.
   */
  cluster?: ClusterNode[];
  /** An ioredis client (`Redis`, or `Cluster` for cluster mode) to use (not closed by `close()`). */
  client?: Redis | Cluster;
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
  /**
   * Replicas that must hold each write before the ledger confirms it (default 0: the master's answer).
   * With 1, a reserve or commit a master acknowledged cannot be lost when it dies and its replica takes
   * over: after each write script the ledger sends WAIT on the same connection, and too few
   * acknowledgements within half of `operationTimeoutMs` answer AuthorityUnavailableError (retry with the same
   * idempotency key). README "Redis Cluster" has what it costs.
   */
  waitForReplicas?: number;
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
   * server on it lists the same ones. Off unless given (`events: {}` turns them on; cycles-guard-server
   * does): deriving them needs every scope's balances in each script's answer, which costs about half
   * again the CPU of a reserve+commit pair (measured: redis-server 209 vs 134 µs, Node 89 vs 54 µs).
   */
  events?: LedgerEventsOptions | false;
}

/** The Redis ledger: core's `Ledger` (runtime protocol + provisioning) plus `close()`. */
export interface RedisLedger extends Ledger {
  close(): Promise<void>;
  /** The ioredis client in use (for health checks): a `Cluster` in cluster mode. */
  readonly client: Redis | Cluster;
}

/** What the runtime scripts store and replay (numbers as decimal strings). */
interface Outcome {
  d?: string;
  /** 1: observed by the tenant's default (the request did not choose). */
  obs?: number;
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
  /** DENY: the blocking scope, its remaining and what was asked of it. */
  at?: string;
  rem?: string;
  req?: string;
  charged?: string;
  released?: string;
  previous?: string[];
  current?: RowReply;
}

const SWEEP_BATCH = 500;

function lower(value: string | undefined): string | undefined {
  return value === undefined ? undefined : value.toLowerCase();
}

/** The `DenyDetail` of a stored DENY outcome (the same facts the memory ledger reports). */
function denialDetail(outcome: Outcome, scopePath: string, unit: Unit): DenyDetail {
  const reason = outcome.reason!;
  if (outcome.at === undefined) {
    return denyDetailOf(reason === 'BUDGET_NOT_FOUND' ? { reason, scope: scopePath, unit } : { reason });
  }
  return denyDetailOf({
    reason,
    scope: outcome.at,
    remaining: amount(outcome.rem!),
    requested: amount(outcome.req!),
    unit,
  });
}

function flag(value: boolean): string {
  return value ? '1' : '0';
}

/**
 * The reserve script's mode: '1' evaluate only (a dry run, or observing by the request's choice), '0'
 * enforce, '' the tenant's observe default, 'd' a dry run that did not choose (observed, and reported,
 * if the tenant observes: the script reads its settings anyway).
 */
function reserveMode(request: ReserveRequest): string {
  if (request.observeMode === true) return '1';
  if (request.dryRun === true) return request.observeMode === false ? '1' : 'd';
  return request.observeMode === false ? '0' : '';
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
  private readonly partitions: Partitions;
  private readonly clock: Clock | undefined;
  private readonly includeBalances: boolean;
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly instanceId = randomBytes(6).toString('base64url');
  private idCounter = 0;
  private readonly templateBounds: TemplateBounds;
  private readonly hooks: RedisLedgerEvents | undefined;
  private readonly keyPrefix: string;
  /** Protocol events, when the `events` option turned them on. */
  readonly events: LedgerEvents | undefined;
  /** Ask the scripts for balances: the caller wants them, or events are derived from them. */
  private readonly wantBalances: boolean;

  constructor(options: RedisLedgerOptions) {
    // Every option is checked (400 naming it) before anything connects, shared ones as the memory ledger.
    this.clock = options.clock;
    this.templateBounds = templateBounds(options);
    const interval = countOption(options, 'sweepIntervalMs', LEDGER_DEFAULTS.sweepIntervalMs);
    this.includeBalances = options.includeBalances === true;
    const keyPrefix = options.keyPrefix ?? 'cycles:';
    this.keyPrefix = keyPrefix;
    const clustered = options.client?.isCluster ?? options.cluster !== undefined;
    if (clustered) checkClusterKeyPrefix(keyPrefix);
    const eventsOn = options.events !== undefined && options.events !== false;
    this.connection = new LedgerConnection({
      ...(options.url === undefined ? {} : { url: options.url }),
      ...(options.cluster === undefined ? {} : { cluster: options.cluster }),
      ...(options.client === undefined ? {} : { client: options.client }),
      prefix: keyPrefix,
      timeoutMs: countOption(options, 'operationTimeoutMs', 2000, 1),
      scriptMode: options.scriptMode ?? 'function',
      waitForReplicas: checkedReplicaCount(options.waitForReplicas),
      header: scriptHeader(options, this.templateBounds),
      // Set only with events on: otherwise the scripts keep nothing about the holds they expire.
      ...(eventsOn ? { onExpired: (expired, nowMs) => this.hooks?.expired(expired, nowMs) } : {}),
    });
    this.partitions = new Partitions(this.connection, keyPrefix);
    if (options.events !== undefined && options.events !== false) {
      this.hooks = new RedisLedgerEvents(this.connection.client, keyPrefix, options.events, options.clock);
      this.events = this.hooks.log;
    }
    this.wantBalances = this.includeBalances || this.hooks !== undefined;
    if (interval > 0) {
      this.timer = setInterval(() => {
        this.sweepExpired().catch(() => {});
      }, interval);
      this.timer.unref?.();
    }
  }

  get client(): Redis | Cluster {
    return this.connection.client;
  }

  /**
   * Runs an operation at the clock's now (undefined: the script reads Redis TIME), under a hash tag on
   * Redis Cluster (`undefined` on one Redis).
   */
  private run(tag: string | undefined, operation: OperationName, args: string[]): Promise<Reply> {
    return this.partitions.exec(operation, args, this.clock?.now(), tag);
  }

  /** The tag of a scope's keys: its tenant's. */
  private scopeTag(scope: string): string | undefined {
    return this.partitions.ofTenant(scopeTenant(scope));
  }

  /** The tag of a reservation's keys, carried by its id. */
  private reservationTag(reservationId: string): string | undefined {
    return this.partitions.clustered ? reservationTag(reservationId) : undefined;
  }

  // ---- runtime protocol -------------------------------------------------------------------------

  async reserve(request: ReserveRequest, context?: CallContext): Promise<ReserveResponse> {
    validateInput.reserve(request);
    const tenant = guardSubject(request.subject, context);
    const tag = this.subjectTag(request.subject, tenant);
    const namespace = `${lower(context?.tenant) ?? tenant ?? ''}|reserve|${request.idempotencyKey}`;
    const scopes = affectedScopes(request.subject);
    const scopePath = scopes[scopes.length - 1]!;
    const record = encodeRecord({
      subject: { ...request.subject },
      action: request.action,
      idempotencyKey: request.idempotencyKey,
      metadata: request.metadata,
    });
    const reply = await this.run(tag, 'reserve', [
      namespace,
      String(reserveFingerprint(request)),
      tenant ?? '',
      reserveMode(request),
      request.estimate.unit,
      String(request.estimate.amount),
      text(request.minimum),
      text(request.ttlMs),
      text(request.gracePeriodMs),
      request.overagePolicy ?? '',
      flag(this.wantBalances),
      record,
      this.nextReservationId(tag),
      ...scopes,
    ]);
    try {
      throwIfError(reply, { idempotencyKey: request.idempotencyKey });
    } catch (error) {
      if (reply.replay === undefined) this.hooks?.denied(error, request, tenant, scopePath, context);
      throw error;
    }
    const outcome = outcomeOf<Outcome>(reply);
    if (reply.replay === undefined && outcome.id === undefined) {
      const answer = {
        decision: outcome.d!,
        reason: outcome.reason,
        hold: amount(outcome.hold ?? '0'),
        blockedBy: outcome.at,
        remaining: outcome.rem === undefined ? undefined : amount(outcome.rem),
        requested: outcome.req === undefined ? undefined : amount(outcome.req),
        bal: outcome.bal,
      };
      this.hooks?.dryRun(request, tenant, scopePath, answer, outcome.obs === 1, context);
    }
    const unit = request.estimate.unit;
    const response: ReserveResponse = {
      decision: outcome.d as ReserveResponse['decision'],
      affectedScopes: scopes,
    };
    if (outcome.d === 'DENY') {
      response.scopePath = scopePath;
      response.reasonCode = outcome.reason as ReserveResponse['reasonCode'];
      response.denyDetail = denialDetail(outcome, scopePath, unit);
      if (outcome.retry !== undefined) response.retryAfterMs = amount(outcome.retry);
      if (outcome.bal !== undefined) response.balances = balancesOf(outcome.bal);
      return response;
    }
    response.reserved = { unit, amount: amount(outcome.hold!) };
    response.scopePath = scopePath;
    if (outcome.caps !== undefined) response.caps = JSON.parse(outcome.caps);
    if (outcome.partial === true) response.partial = true;
    const live = outcome.id !== undefined;
    if (outcome.bal !== undefined && (!live || this.includeBalances)) {
      response.balances = balancesOf(outcome.bal);
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
    validateInput.commit(reservationId, request);
    const reply = await this.run(this.reservationTag(reservationId), 'commit', [
      reservationId,
      lower(context?.tenant) ?? '',
      request.idempotencyKey,
      String(commitFingerprint(request)),
      request.actual.unit,
      String(request.actual.amount),
      request.metadata === undefined ? '' : JSON.stringify(request.metadata),
      flag(this.wantBalances),
    ]);
    throwIfError(reply, { overage: true });
    const outcome = outcomeOf<Outcome>(reply);
    const unit = request.actual.unit;
    const response: CommitResponse = {
      status: 'COMMITTED',
      charged: { unit, amount: amount(outcome.charged!) },
    };
    if (outcome.released !== undefined) response.released = { unit, amount: amount(outcome.released) };
    if (outcome.bal !== undefined && this.includeBalances) {
      response.balances = balancesOf(outcome.bal);
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
    validateInput.release(reservationId, request);
    const reply = await this.run(this.reservationTag(reservationId), 'release', [
      reservationId,
      lower(context?.tenant) ?? '',
      request.idempotencyKey,
      String(releaseFingerprint(request)),
      flag(this.wantBalances),
    ]);
    throwIfError(reply);
    const outcome = outcomeOf<Outcome>(reply);
    const response: ReleaseResponse = {
      status: 'RELEASED',
      released: { unit: outcome.unit as Unit, amount: amount(outcome.released!) },
    };
    if (outcome.bal !== undefined && this.includeBalances) response.balances = balancesOf(outcome.bal);
    if (reply.replay === undefined)
      this.hooks?.released(reservationId, response.released.amount, outcome.bal, context);
    return response;
  }

  async extend(
    reservationId: string,
    request: ExtendRequest,
    context?: CallContext,
  ): Promise<ExtendResponse> {
    validateInput.extend(reservationId, request);
    const reply = await this.run(this.reservationTag(reservationId), 'extend', [
      reservationId,
      lower(context?.tenant) ?? '',
      request.idempotencyKey,
      String(extendFingerprint(request)),
      String(request.extendByMs),
      flag(this.includeBalances),
    ]);
    throwIfError(reply);
    const outcome = outcomeOf<Outcome>(reply);
    const response: ExtendResponse = {
      status: 'ACTIVE',
      expiresAtMs: amount(outcome.exp!),
      remainingTtlMs: amount(reply.replay === undefined ? outcome.ttl! : reply.ttl!),
    };
    if (outcome.bal !== undefined) response.balances = balancesOf(outcome.bal);
    return response;
  }

  async decide(request: DecideRequest, context?: CallContext): Promise<DecideResponse> {
    validateInput.decide(request);
    const tenant = guardSubject(request.subject, context);
    const tag = this.subjectTag(request.subject, tenant);
    const namespace = `${lower(context?.tenant) ?? tenant ?? ''}|decide|${request.idempotencyKey}`;
    const scopes = affectedScopes(request.subject);
    const reply = await this.run(tag, 'decide', [
      namespace,
      String(decideFingerprint(request)),
      tenant ?? '',
      request.estimate.unit,
      String(request.estimate.amount),
      ...scopes,
    ]);
    throwIfError(reply, { idempotencyKey: request.idempotencyKey });
    const outcome = outcomeOf<Outcome>(reply);
    const response: DecideResponse = {
      decision: outcome.d as DecideResponse['decision'],
      affectedScopes: scopes,
    };
    if (outcome.reason !== undefined) response.reasonCode = outcome.reason as DecideResponse['reasonCode'];
    if (outcome.d === 'DENY')
      response.denyDetail = denialDetail(outcome, scopes.at(-1)!, request.estimate.unit);
    if (outcome.retry !== undefined) response.retryAfterMs = amount(outcome.retry);
    if (outcome.caps !== undefined) response.caps = JSON.parse(outcome.caps);
    return response;
  }

  async createEvent(request: EventRequest, context?: CallContext): Promise<EventResponse> {
    validateInput.event(request);
    const tenant = guardSubject(request.subject, context);
    const tag = this.subjectTag(request.subject, tenant);
    const namespace = `${lower(context?.tenant) ?? tenant ?? ''}|event|${request.idempotencyKey}`;
    const reply = await this.run(tag, 'event', [
      namespace,
      String(eventFingerprint(request)),
      tenant ?? '',
      request.actual.unit,
      String(request.actual.amount),
      request.overagePolicy ?? '',
      flag(this.wantBalances),
      ...affectedScopes(request.subject),
    ]);
    throwIfError(reply, { overage: true, idempotencyKey: request.idempotencyKey });
    const outcome = outcomeOf<Outcome>(reply);
    const response: EventResponse = { status: 'APPLIED', eventId: outcome.id! };
    if (outcome.bal !== undefined && this.includeBalances) {
      response.balances = balancesOf(outcome.bal);
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
    validateInput.balancesQuery(query);
    const tenant = lower(context?.tenant);
    guardQueriedTenant(tenant, query.tenant, 'Balances');
    const only = tenant ?? (query.tenant === '' ? undefined : lower(query.tenant));
    const rows = await this.rowsOf('balances', [tenant ?? '', ...wantedSegments(query)], only);
    return balancesPage(rows.map(toState), query);
  }

  async getReservation(reservationId: string, context?: CallContext): Promise<ReservationDetail> {
    validateInput.reservationId(reservationId);
    const reply = await this.run(this.reservationTag(reservationId), 'getReservation', [
      reservationId,
      lower(context?.tenant) ?? '',
    ]);
    throwIfError(reply);
    return reservationDetail(toStored(reply.rsv!), storedNaming);
  }

  async listReservations(
    query: ListReservationsQuery,
    context?: CallContext,
  ): Promise<ListReservationsResponse> {
    validateInput.listQuery(query);
    const tenant = lower(context?.tenant);
    guardQueriedTenant(tenant, query.tenant, 'Reservations');
    const only = tenant ?? (query.tenant === '' ? undefined : lower(query.tenant));
    const replies =
      only === undefined
        ? await this.partitions.everywhere('listReservations', [tenant ?? ''], this.clock?.now())
        : [await this.run(this.partitions.ofTenant(only), 'listReservations', [tenant ?? ''])];
    const stored = replies.flatMap((reply) => asList<ReservationView>(reply.list)).map(toStored);
    return queryReservations(stored, query, tenant, storedNaming);
  }

  async close(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.connection.close();
  }

  // ---- provisioning -----------------------------------------------------------------------------

  async createLedger(definition: LedgerDefinition): Promise<LedgerState> {
    const checked = validateDefinition(definition, 'ledger');
    const reply = await this.run(this.scopeTag(checked.scope), 'createLedger', [definitionJson(checked)]);
    throwIfError(reply);
    return toState(asList<RowReply>(reply.rows)[0]!);
  }

  async fund(request: FundingRequest): Promise<FundingResult> {
    const scope = normalizeScope(request.scope, 'scope');
    const funding = request.funding;
    const amountOk = Number.isSafeInteger(funding?.amount) && funding.amount >= 0;
    const spent = funding?.operation === 'RESET_SPENT' ? funding.spent : undefined;
    const spentOk = spent === undefined || (Number.isSafeInteger(spent) && spent >= 0);
    const reply = await this.run(this.scopeTag(scope), 'fund', [
      `${scope}|${request.unit}`,
      `fund|${scope}|${request.unit}|${request.idempotencyKey ?? ''}`,
      String(fundingFingerprint(funding, request.reason)),
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
    const outcome = outcomeOf<Outcome>(reply);
    const [allocated, remaining, debt, spentBefore] = outcome.previous!.map(amount);
    const result = {
      previous: { allocated: allocated!, remaining: remaining!, debt: debt!, spent: spentBefore! },
      current: toState(outcome.current!),
    };
    if (reply.replay === undefined) this.hooks?.funded(result.previous, result.current);
    return result;
  }

  async setLedgerStatus(scope: string, unit: Unit, status: LedgerStatus): Promise<LedgerState> {
    const path = normalizeScope(scope, 'scope');
    const changed = await this.run(this.scopeTag(path), 'setStatus', [`${path}|${unit}`, status]);
    throwIfError(changed);
    return toState(asList<RowReply>(changed.rows)[0]!);
  }

  async updateLedger(
    scope: string,
    unit: Unit,
    changes: Partial<Pick<LedgerDefinition, 'overdraftLimit' | 'caps' | 'commitOveragePolicy'>>,
  ): Promise<LedgerState> {
    const path = normalizeScope(scope, 'scope');
    const current = await this.getLedger(path, unit);
    if (current === undefined) throw noLedger(path, unit);
    const checked = validateDefinition(
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
    const reply = await this.run(this.scopeTag(path), 'updateLedger', [
      `${path}|${unit}`,
      JSON.stringify(update),
    ]);
    throwIfError(reply);
    return toState(asList<RowReply>(reply.rows)[0]!);
  }

  async removeLedger(scope: string, unit: Unit): Promise<LedgerState> {
    const path = normalizeScope(scope, 'scope');
    const reply = await this.run(this.scopeTag(path), 'removeLedger', [`${path}|${unit}`]);
    throwIfError(reply);
    return toState(asList<RowReply>(reply.rows)[0]!);
  }

  async getLedger(scope: string, unit: Unit): Promise<LedgerState | undefined> {
    const path = normalizeScope(scope, 'scope');
    const reply = await this.run(this.scopeTag(path), 'getLedger', [`${path}|${unit}`]);
    const row = asList<RowReply>(reply.rows)[0];
    return row === undefined ? undefined : toState(row);
  }

  async listLedgers(): Promise<LedgerState[]> {
    return (await this.rowsOf('listLedgers', [], undefined)).map(toState);
  }

  async addTemplate(template: LedgerTemplate): Promise<void> {
    const checked = validateTemplate(template);
    await this.partitions.addTemplate(definitionJson(checked), this.clock?.now());
  }

  async setTenant(tenant: string, settings: TenantSettings): Promise<void> {
    validateTenantSettings(settings);
    const fields = tenantFields(settings);
    await this.run(this.partitions.ofTenant(tenant), 'setTenant', [tenant.toLowerCase(), ...fields]);
  }

  async closeTenant(tenant: string, settings: TenantSettings): Promise<TenantClosing> {
    const checked = validateClosingSettings(settings);
    const reply = await this.run(this.partitions.ofTenant(tenant), 'closeTenant', [
      tenant.toLowerCase(),
      ...tenantFields(checked),
    ]);
    throwIfError(reply);
    type Released = { id: string; unit: Unit; amount: string; scopes: unknown; bal: unknown };
    const released = asList<Released>(reply.released).map((entry) => {
      this.hooks?.released(entry.id, amount(entry.amount), entry.bal);
      return {
        reservationId: entry.id,
        unit: entry.unit,
        amount: amount(entry.amount),
        scopes: asList<string>(entry.scopes),
      };
    });
    return { released };
  }

  async getTenant(tenant: string): Promise<TenantSettings | undefined> {
    const stored = await readTenantHash(this.client, this.keyPrefix, tenant);
    return stored === undefined ? undefined : tenantSettingsOf(stored);
  }

  async templateLedgerCounts(): Promise<TemplateLedgerCounts> {
    const replies = await this.partitions.everywhere('templateCounts', [], this.clock?.now());
    const byTenant: Record<string, number> = {};
    const list = replies.flatMap((reply) => asList<[string, string]>(reply.list));
    for (const [tenant, count] of list.sort(([a], [b]) => compareText(a, b)))
      byTenant[tenant] = amount(count);
    const total = this.partitions.clustered
      ? await this.partitions.censusCount(this.clock?.now())
      : replies.reduce((sum, reply) => sum + amount(reply.count!), 0);
    return { total, ...this.templateBounds, byTenant };
  }

  async sweepExpired(): Promise<number> {
    const now = this.clock?.now();
    let total = 0;
    for (;;) {
      let more = false;
      for (const reply of await this.partitions.everywhere('sweep', [String(SWEEP_BATCH)], now)) {
        const count = amount(reply.count!);
        total += count;
        // Retention is pruned in the same batches (one due index): go on while a batch was full.
        if (count + amount(reply.pruned!) >= SWEEP_BATCH) more = true;
      }
      if (!more) {
        // Redis Cluster: ledgers dropped at their window end leave the census too.
        if (this.partitions.clustered) await this.partitions.censusCount(now);
        return total;
      }
    }
  }

  // ---- internals --------------------------------------------------------------------------------

  /**
   * A reservation id, unique across instances (random instance part) and increasing within one
   * instance, made here to save the script a round trip to a shared counter. Unused on a replay.
   */
  private nextReservationId(tag: string | undefined): string {
    this.idCounter += 1;
    // On Redis Cluster the id carries its tag, so commit, release, extend and reads find its slot.
    const tagged = tag === undefined ? '' : `${tag}.`;
    return `rsv_${tagged}${this.instanceId}${this.idCounter.toString(36).padStart(10, '0')}`;
  }

  /** Rows of a read: under one tenant's tag, or under every tag when it is across tenants. */
  private async rowsOf(operation: OperationName, args: string[], tenant: string | undefined) {
    const replies =
      tenant === undefined
        ? await this.partitions.everywhere(operation, args, this.clock?.now())
        : [await this.run(this.partitions.ofTenant(tenant), operation, args)];
    return replies.flatMap((reply) => asList<RowReply>(reply.rows));
  }

  /**
   * The tag of a subject's keys. On Redis Cluster, scopes without a tenant live under the global tag
   * and a tenant's settings and counts under its own: a caller's tenant with a subject naming none
   * would need both in one script, so it is refused before anything is sent.
   */
  private subjectTag(subject: Subject, tenant: string | undefined): string | undefined {
    if (!this.partitions.clustered) return undefined;
    if (subject.tenant === undefined && tenant !== undefined) {
      throw new InvalidRequestError(
        `subject.tenant is missing: on Redis Cluster a caller with a tenant (${tenant}) must name it in the subject, since scopes without a tenant live in another slot than its settings; fix: set subject.tenant`,
        { details: { field: 'subject.tenant' } },
      );
    }
    return this.partitions.ofTenant(tenant);
  }
}

/** The options every script reads first, in the prelude's order, each checked as the memory ledger does. */
function scriptHeader(options: RedisLedgerOptions, bounds: TemplateBounds): ConnectionOptions['header'] {
  const defaults = LEDGER_DEFAULTS;
  return [
    String(countOption(options, 'reservationRetentionMs', defaults.reservationRetentionMs)),
    String(countOption(options, 'maxReservationsPerTenant', defaults.maxReservationsPerTenant, 1)),
    String(countOption(options, 'idempotencyRetentionMs', defaults.idempotencyRetentionMs)),
    String(countOption(options, 'reservationReplayWindowMs', defaults.reservationReplayWindowMs)),
    String(bounds.limit),
    String(bounds.perTenantLimit),
    String(countOption(options, 'templateLedgerRetentionMs', 3_600_000)),
  ];
}

/** Tenant settings as the scripts store them: field/value pairs, values as text. */
function tenantFields(settings: TenantSettings): string[] {
  const fields: string[] = [];
  for (const [name, value] of Object.entries(settings)) {
    if (value !== undefined) fields.push(name, String(value));
  }
  return fields;
}

function checkedReplicaCount(replicas: number | undefined): number {
  if (replicas === undefined) return 0;
  if (!(Number.isSafeInteger(replicas) && replicas >= 0 && replicas <= 16)) {
    throw new InvalidRequestError(
      `waitForReplicas must be an integer from 0 to 16 (got ${String(replicas)}): fix the waitForReplicas option`,
      { details: { field: 'waitForReplicas' } },
    );
  }
  return replicas;
}

function noLedger(scope: string, unit: Unit): NotFoundError {
  return new NotFoundError(`No ${unit} budget for ${scope}`, { details: { scope, unit } });
}
