import type { Decision, OveragePolicy, Unit } from '../protocol/enums.ts';
import {
  BudgetExceededError,
  CyclesError,
  NotFoundError,
  ReservationExpiredError,
} from '../protocol/errors.ts';
import type {
  Action,
  Caps,
  CommitRequest,
  CommitResponse,
  Metadata,
  StandardMetrics,
  Subject,
} from '../protocol/types.ts';
import type { Settlement } from './hold-types.ts';
import type { OutboxEntry } from './outbox/entry.ts';
import { isTransient, retryAfter, withRetry } from './retry.ts';
import type { Runtime } from './runtime.ts';

// Commit and release of a hold: same-key retries, 410 or 404 → event, REJECT overrun → charge the
// hold; a transient failure after the retries goes to the settlement outbox before it is given up.

/** What a live hold remembers of its reservation request (internal). */
export interface HoldState {
  runtime: Runtime;
  key: string;
  subject: Subject;
  action: Action;
  unit: Unit;
  estimate: number;
  overagePolicy: OveragePolicy | undefined;
  /** True when a write-ahead intent was written for this hold (removed once it settles). */
  intent?: boolean;
}

/** What the authority granted (internal). */
export interface Granted {
  reservationId: string;
  reserved: number;
  partial: boolean;
  decision: Decision;
  caps: Caps | undefined;
}

/** Commits `actual` (see `Hold.commit`). */
export async function commitHold(
  state: HoldState,
  granted: Granted,
  actual: number,
  metrics: StandardMetrics | undefined,
  metadata: Metadata | undefined,
): Promise<Settlement> {
  const { runtime } = state;
  const { authority } = runtime;
  const { reservationId, reserved } = granted;
  const idempotencyKey = `${state.key}:commit`;
  const sentAtMs = runtime.outbox === undefined ? 0 : Date.now();
  const sentAt = performance.now();
  let result: Settlement;
  try {
    try {
      const request = commitRequest(state, idempotencyKey, actual, metrics, metadata);
      let response: CommitResponse;
      // The first attempt is awaited here, retries (same key) only after it failed: no extra promise.
      try {
        response = await authority.commit(reservationId, request);
      } catch (error) {
        const again = () => authority.commit(reservationId, request);
        response = await retryAfter(error, again, runtime.config.retry, isTransient);
      }
      result = settled(reservationId, actual, response.charged.amount, response.released?.amount, false);
    } catch (error) {
      if (BudgetExceededError.isInstance(error) && actual > reserved) {
        // REJECT overage policy: the overrun is refused but the hold stays; charge what was held.
        const request = commitRequest(state, `${state.key}:commit-capped`, reserved, metrics, metadata);
        const response = await withRetry(
          () => authority.commit(reservationId, request),
          runtime.config.retry,
        );
        result = settled(reservationId, actual, response.charged.amount, response.released?.amount, false);
      } else if (ReservationExpiredError.isInstance(error) || NotFoundError.isInstance(error)) {
        // The hold expired (no spend recorded) or aged out of retention: post the charge directly, same
        // key (PROTOCOL §2.7). A 404 within a retry sequence cannot follow a landed attempt: a committed
        // reservation stays readable for the ledger's retention (an hour by default), far longer.
        const response = await withRetry(
          () =>
            runtime.authority.createEvent({
              idempotencyKey,
              subject: state.subject,
              action: state.action,
              actual: { unit: state.unit, amount: actual },
              ...(state.overagePolicy === undefined ? {} : { overagePolicy: state.overagePolicy }),
              ...(metrics === undefined ? {} : { metrics }),
              ...(metadata === undefined ? {} : { metadata }),
            }),
          runtime.config.retry,
        );
        result = settled(reservationId, actual, response.charged?.amount ?? actual, 0, true);
      } else {
        throw error;
      }
    }
  } catch (error) {
    emitSettleError(state, reservationId, 'commit', actual, error);
    const entry = { operation: 'commit', idempotencyKey, amount: actual, reserved } as const;
    await giveUp(state, reservationId, { ...entry, firstAttemptAtMs: sentAtMs, metrics, metadata }, error);
    throw error;
  }
  if (state.intent === true) runtime.outbox?.settled(state.key);
  if (runtime.listening)
    runtime.emit({
      type: 'commit',
      timeMs: runtime.clock.now(),
      subject: state.subject,
      action: state.action,
      unit: state.unit,
      reservationId,
      reserved,
      actual,
      charged: result.status === 'committed' ? result.charged : 0,
      viaEvent: result.status === 'committed' && result.viaEvent,
      ...(metrics === undefined ? {} : { metrics }),
      ledgerMs: performance.now() - sentAt,
    });
  return result;
}

/** A commit request; optional fields set only when present (no spread per field: a hot path). */
function commitRequest(
  state: HoldState,
  idempotencyKey: string,
  amount: number,
  metrics: StandardMetrics | undefined,
  metadata: Metadata | undefined,
): CommitRequest {
  const request: CommitRequest = { idempotencyKey, actual: { unit: state.unit, amount } };
  if (metrics !== undefined) request.metrics = metrics;
  if (metadata !== undefined) request.metadata = metadata;
  return request;
}

function settled(
  reservationId: string,
  actual: number,
  charged: number,
  released: number | undefined,
  viaEvent: boolean,
): Settlement {
  return { status: 'committed', reservationId, actual, charged, released: released ?? 0, viaEvent };
}

/** Releases the hold (see `Hold.release`); an expired hold counts as released. */
export async function releaseHold(
  state: HoldState,
  granted: Granted,
  reason: string | undefined,
): Promise<Settlement> {
  const { runtime } = state;
  const { reservationId } = granted;
  const sentAtMs = runtime.outbox === undefined ? 0 : Date.now();
  const sentAt = performance.now();
  let result: Settlement;
  try {
    const response = await withRetry(
      () =>
        runtime.authority.release(reservationId, {
          idempotencyKey: `${state.key}:release`,
          ...(reason === undefined ? {} : { reason: reason.slice(0, 256) }),
        }),
      runtime.config.retry,
    );
    result = { status: 'released', reservationId, released: response.released.amount, expired: false };
  } catch (error) {
    // An expired hold already went back to the budget: the release's goal is met.
    if (ReservationExpiredError.isInstance(error)) {
      result = { status: 'released', reservationId, released: 0, expired: true };
    } else {
      emitSettleError(state, reservationId, 'release', 0, error);
      const entry = { operation: 'release', idempotencyKey: `${state.key}:release`, amount: 0 } as const;
      await giveUp(
        state,
        reservationId,
        { ...entry, reserved: granted.reserved, firstAttemptAtMs: sentAtMs, reason },
        error,
      );
      throw error;
    }
  }
  if (state.intent === true) runtime.outbox?.settled(state.key);
  if (runtime.listening)
    runtime.emit({
      type: 'release',
      timeMs: runtime.clock.now(),
      subject: state.subject,
      action: state.action,
      unit: state.unit,
      reservationId,
      released: result.status === 'released' ? result.released : 0,
      ...(reason === undefined ? {} : { reason }),
      ledgerMs: performance.now() - sentAt,
    });
  return result;
}

/** The parts of an outbox entry a settlement knows. */
interface Unconfirmed {
  operation: 'commit' | 'release';
  idempotencyKey: string;
  amount: number;
  reserved: number;
  firstAttemptAtMs: number;
  metrics?: StandardMetrics | undefined;
  metadata?: Metadata | undefined;
  reason?: string | undefined;
}

/**
 * A settlement failed after its retries: a transient failure goes to the outbox (written before the
 * caller sees the error); a definitive one removes the hold's intent (replaying it would charge).
 */
async function giveUp(
  state: HoldState,
  reservationId: string,
  failed: Unconfirmed,
  error: unknown,
): Promise<void> {
  const { outbox } = state.runtime;
  if (outbox === undefined) return;
  if (!isTransient(error)) {
    if (state.intent === true) outbox.settled(state.key);
    return;
  }
  const entry: OutboxEntry = {
    version: 1,
    key: state.key,
    state: 'queued',
    operation: failed.operation,
    reservationId,
    idempotencyKey: failed.idempotencyKey,
    subject: state.subject,
    action: state.action,
    unit: state.unit,
    amount: failed.amount,
    reserved: failed.reserved,
    firstAttemptAtMs: failed.firstAttemptAtMs,
  };
  if (state.overagePolicy !== undefined) entry.overagePolicy = state.overagePolicy;
  if (failed.metrics !== undefined) entry.metrics = failed.metrics;
  if (failed.metadata !== undefined) entry.metadata = failed.metadata;
  if (failed.reason !== undefined) entry.reason = failed.reason.slice(0, 256);
  // If no store takes it, the caller still gets the settlement's own error (and `settle-error`).
  await outbox.queue(entry, error).catch(() => {});
}

function emitSettleError(
  state: HoldState,
  reservationId: string,
  operation: 'commit' | 'release',
  actual: number,
  error: unknown,
): void {
  state.runtime.emit({
    type: 'settle-error',
    timeMs: state.runtime.clock.now(),
    subject: state.subject,
    action: state.action,
    unit: state.unit,
    reservationId,
    operation,
    actual,
    code: CyclesError.isInstance(error) ? error.code : 'UNKNOWN',
    message: error instanceof Error ? error.message : String(error),
  });
}
