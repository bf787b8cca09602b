import type { DenyDetail } from './protocol/deny-detail.ts';
import type { Decision, Unit } from './protocol/enums.ts';
import type { Action, Caps, StandardMetrics, Subject } from './protocol/types.ts';

/** Fields every event carries. */
interface EventBase {
  /** When the event happened (ms since the epoch, from the configured clock). */
  timeMs: number;
  subject: Subject;
  action: Action;
  unit: Unit;
}

/** A reservation was granted (fully, partially or with caps). */
export interface DecisionEvent extends EventBase {
  type: 'decision';
  reservationId: string;
  decision: Decision;
  /** What was asked for. */
  estimate: number;
  /** What was held (less than `estimate` when `partial`). */
  reserved: number;
  partial: boolean;
  caps?: Caps;
  /** Milliseconds the authority took to answer the reserve (retries included). */
  ledgerMs?: number;
}

/** A reservation was refused (budget exceeded, frozen, ...) or a call was denied before leaving. */
export interface DenialEvent extends EventBase {
  type: 'denial';
  estimate: number;
  /** The error code that refused the call, e.g. `BUDGET_EXCEEDED`. */
  code: string;
  message: string;
  /** Set when a hold was taken and then returned (e.g. too little left for the minimum output). */
  reservationId?: string;
  /** Version of the prices an LLM call was sized with, when one was refused. */
  priceVersion?: string;
  /** Milliseconds the authority took to refuse the reserve, when the authority refused it. */
  ledgerMs?: number;
}

/** A hold was settled with a charge. */
export interface CommitEvent extends EventBase {
  type: 'commit';
  reservationId: string;
  reserved: number;
  actual: number;
  /** What the authority charged (may be below `actual` when an overrun was capped). */
  charged: number;
  /** True when the hold had expired and the charge was posted as a direct-debit event. */
  viaEvent: boolean;
  /** The commit's metrics (tokens, model) when it sent any. */
  metrics?: StandardMetrics;
  /** Milliseconds the authority took to confirm the charge (retries included). */
  ledgerMs?: number;
}

/** A hold was returned unused. */
export interface ReleaseEvent extends EventBase {
  type: 'release';
  reservationId: string;
  released: number;
  reason?: string;
  /** Milliseconds the authority took to confirm the release (retries included). */
  ledgerMs?: number;
}

/**
 * Settlement failed after every retry. With the settlement outbox on, a `settlement-queued` event
 * follows when the failure was transient (the outbox replays it); otherwise the hold expires on its
 * own and nothing is charged.
 */
export interface SettleErrorEvent extends EventBase {
  type: 'settle-error';
  reservationId: string;
  operation: 'commit' | 'release';
  /** The amount that could not be charged (0 for a release). */
  actual: number;
  code: string;
  message: string;
}

/** Fields of the settlement outbox's events. */
interface SettlementEventBase extends EventBase {
  reservationId: string;
  operation: 'commit' | 'release';
  /** The amount to charge (0 for a release). */
  amount: number;
}

/** A settlement the authority could not confirm was written to the durable outbox, to be replayed. */
export interface SettlementQueuedEvent extends SettlementEventBase {
  type: 'settlement-queued';
  /** The error of the last attempt. */
  code: string;
  message: string;
  /** The outbox store it went to (a directory, or Redis). */
  store: string;
}

/** An outbox entry was confirmed by the authority (replayed with its original idempotency key). */
export interface SettlementReplayedEvent extends SettlementEventBase {
  type: 'settlement-replayed';
  /** What the authority charged. */
  charged: number;
  /** True when the hold had expired or aged out and the charge was posted as an event. */
  viaEvent: boolean;
  /** True for the write-ahead intent of a process that died before settling (charges the whole hold). */
  fromIntent: boolean;
  /**
   * True when the charge was posted as an event after a NOT_FOUND that came longer than the ledger's
   * reservation retention after the first attempt: that attempt may have landed too. Reconcile it.
   */
  possibleDuplicate: boolean;
  /** Time from the first attempt to the confirmation. */
  ageMs: number;
}

/** The authority definitively refused an outbox entry (not a transient failure): it is removed. */
export interface SettlementDroppedEvent extends SettlementEventBase {
  type: 'settlement-dropped';
  code: string;
  message: string;
}

/** An LLM call's output-token limit was lowered to fit the budget or a cap. */
export interface CappedEvent extends EventBase {
  type: 'capped';
  reservationId: string;
  model: string;
  requestedMaxOutputTokens: number;
  grantedMaxOutputTokens: number;
  /** `budget`: only part of the worst case fitted; `caps`: the authority's `maxTokens` cap. */
  reason: 'budget' | 'caps';
  /** Version of the prices the call was sized with. */
  priceVersion?: string;
}

/** A running LLM call was told to stop because its next token would pass the hold. */
export interface CutoffEvent extends EventBase {
  type: 'cutoff';
  reservationId: string;
  model: string;
  reserved: number;
  /** Cost of the usage observed so far. */
  cost: number;
  outputTokens: number;
  /** Version of the prices the cost was computed with. */
  priceVersion?: string;
}

/** The authority could not be reached and the call ran unguarded because `failMode` is `open`. */
export interface FailOpenEvent extends EventBase {
  type: 'fail-open';
  estimate: number;
  code: string;
  message: string;
}

/** The heartbeat stopped extending a hold (and why). */
export interface HeartbeatStoppedEvent extends EventBase {
  type: 'heartbeat-stopped';
  reservationId: string;
  /** `settled`, or the error code that ended it (`RESERVATION_EXPIRED`, `MAX_EXTENSIONS_EXCEEDED`, ...). */
  reason: string;
  extensions: number;
}

/** Everything cycles-guard reports through `onEvent`, discriminated by `type`. */
export type CyclesEvent =
  | DecisionEvent
  | DenialEvent
  | CommitEvent
  | ReleaseEvent
  | SettleErrorEvent
  | SettlementQueuedEvent
  | SettlementReplayedEvent
  | SettlementDroppedEvent
  | CappedEvent
  | CutoffEvent
  | FailOpenEvent
  | HeartbeatStoppedEvent
  | ObservedEvent;

/** What enforcement would have decided for one call (observe mode). */
export interface ObservedEvent extends EventBase {
  type: 'observed';
  estimate: number;
  decision: Decision;
  /** True when enforcement would have refused the call (decision DENY). */
  wouldDeny: boolean;
  /** Why, when it would have been refused (e.g. BUDGET_EXCEEDED). */
  reasonCode?: string;
  /** Where and what would fix it, when it would have been refused. */
  denyDetail?: DenyDetail;
  /** What a live hold would have held (below `estimate` for a partial hold), when allowed. */
  wouldReserve?: number;
  /** Limits enforcement would have applied (ALLOW_WITH_CAPS); not applied in observe mode. */
  caps?: Caps;
}

/** The subscriber type: may be async; its errors and rejections are swallowed. */
export type CyclesEventHandler = (event: CyclesEvent) => void | Promise<void>;

/**
 * Calls the handler and swallows whatever it throws or rejects with: an observer must never break or
 * change the outcome of a guarded call.
 */
export function emitSafely(handler: CyclesEventHandler | undefined, event: CyclesEvent): void {
  if (handler === undefined) return;
  try {
    const result = handler(event);
    if (result !== undefined && typeof (result as Promise<void>).catch === 'function') {
      (result as Promise<void>).catch(() => {});
    }
  } catch {
    // Deliberately ignored: see above.
  }
}
