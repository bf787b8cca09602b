import type { SettlementStore } from './lifecycle/outbox/store.ts';
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
} from './protocol/types.ts';

/**
 * Who is calling, as the authority sees it. A protocol server derives `tenant` from the API key;
 * in-process callers may omit it (trusted). When set, subjects and reservations of other tenants are
 * refused with 403 FORBIDDEN.
 */
export interface CallContext {
  tenant?: string;
  /** The HTTP request behind the call (a server sets it; events record it as `request_id`). */
  requestId?: string;
  /** Its W3C trace id (32 lowercase hex; events record it as `trace_id`). */
  traceId?: string;
}

/**
 * Everything that answers the Cycles runtime operations: the embedded ledger, the Redis ledger, or a
 * remote Cycles server. Everything above it (lifecycle, LLM guard, adapters) talks only to this.
 *
 * Errors are thrown as typed `CyclesError`s carrying the protocol's code and status.
 */
export interface BudgetAuthority {
  /** Live reserve (or `dryRun` evaluation). A live reserve never answers DENY: it throws a 409 error. */
  reserve(request: ReserveRequest, context?: CallContext): Promise<ReserveResponse>;
  commit(reservationId: string, request: CommitRequest, context?: CallContext): Promise<CommitResponse>;
  release(reservationId: string, request: ReleaseRequest, context?: CallContext): Promise<ReleaseResponse>;
  extend(reservationId: string, request: ExtendRequest, context?: CallContext): Promise<ExtendResponse>;
  /** Evaluates without reserving; budget problems come back as DENY with a reason code. */
  decide(request: DecideRequest, context?: CallContext): Promise<DecideResponse>;
  /** A direct debit with no hold (201 semantics). */
  createEvent(request: EventRequest, context?: CallContext): Promise<EventResponse>;
  getBalances(query: BalancesQuery, context?: CallContext): Promise<BalancesResponse>;
  getReservation(reservationId: string, context?: CallContext): Promise<ReservationDetail>;
  listReservations(query: ListReservationsQuery, context?: CallContext): Promise<ListReservationsResponse>;
  /**
   * Who this authority is, for the settlement outbox (one journal per identity; no secrets in clear).
   * Absent for an in-process ledger: it dies with its caller, so there is nothing to replay.
   */
  readonly identity?: string;
  /** A durable outbox store of the authority's own (the Redis ledger keeps it in Redis). */
  createSettlementStore?(): SettlementStore;
  /** Stops background work (sweepers, sockets). Idempotent. */
  close?(): Promise<void>;
}
