import { randomUUID } from 'node:crypto';
import { AuthorityUnavailableError, CyclesError, InvalidRequestError } from '../protocol/errors.ts';
import type { Action, ReserveRequest } from '../protocol/types.ts';
import { currentBudget, mergeSubjects } from './budget-context.ts';
import { type Heartbeat, startHeartbeat } from './heartbeat.ts';
import { checkAmount, liveHold, unguardedHold } from './hold-handles.ts';
import type { Hold, ReserveOptions } from './hold-types.ts';
import { isObservation, observedEvent, observedHold } from './observed-hold.ts';
import type { SettlementOutbox } from './outbox/settlement-outbox.ts';
import { isTransient, retryAfter } from './retry.ts';
import type { Runtime } from './runtime.ts';
import type { HoldState } from './settle.ts';

export type { Hold, ReserveOptions, Settlement } from './hold-types.ts';

/** Action used when neither the call nor the budget context names one. */
export const DEFAULT_ACTION: Action = { kind: 'custom', name: 'guarded' };

/** A call of a `withRunBudget` run that starts after the run's ledger was removed: it would go uncapped. */
function runEnded(scope: string): InvalidRequestError {
  return new InvalidRequestError(
    `until: this call belongs to the run ${scope}, which already ended and lost its ledger (e.g. a ` +
      'stream read after the withRunBudget callback returned); pass that work to run.until(...) so ' +
      'the run lasts until it settles',
    { details: { field: 'until', scope } },
  );
}

/**
 * Reserves `estimate` (or at least `minimum`) for the effective subject. Transient failures are retried
 * with the same key. If the authority stays unreachable: AuthorityUnavailableError, or an unguarded
 * hold and a `fail-open` event when `failMode` is `open`. Budget refusals emit `denial` and throw.
 */
export async function reserveHold(runtime: Runtime, options: ReserveOptions): Promise<Hold> {
  checkAmount('estimate', options.estimate);
  checkAmount('minimum', options.minimum);
  const { config, clock } = runtime;
  const budget = currentBudget();
  if (budget?.run?.ended === true) throw runEnded(budget.run.scope);
  // The subject a call runs as: instance default, then budget context, then the call's own.
  const state: HoldState = {
    runtime,
    key: randomUUID(),
    subject: mergeSubjects(config.subject, budget?.subject, options.subject),
    action: options.action ?? budget?.action ?? DEFAULT_ACTION,
    unit: options.unit ?? config.unit,
    estimate: options.estimate,
    overagePolicy: options.overagePolicy ?? config.overagePolicy,
  };
  const ttlMs = options.ttlMs ?? config.ttlMs;
  const gracePeriodMs = options.gracePeriodMs ?? config.gracePeriodMs;
  const startedAt = clock.now();
  // Built once, with optional fields set only when present (no spread per field): a hot path.
  const request: ReserveRequest = {
    idempotencyKey: state.key,
    subject: state.subject,
    action: state.action,
    estimate: { unit: state.unit, amount: options.estimate },
  };
  if (ttlMs !== undefined) request.ttlMs = ttlMs;
  if (gracePeriodMs !== undefined) request.gracePeriodMs = gracePeriodMs;
  if (state.overagePolicy !== undefined) request.overagePolicy = state.overagePolicy;
  if (options.minimum !== undefined && options.minimum < options.estimate) request.minimum = options.minimum;
  if (options.metadata !== undefined) request.metadata = options.metadata;
  const observe = config.mode === 'observe';
  if (observe) request.observeMode = true;
  let response: Awaited<ReturnType<Runtime['authority']['reserve']>>;
  // The ledger's round trip, for telemetry: one clock pair here costs less than timing the authority.
  const sentAt = performance.now();
  try {
    // The first attempt is awaited here, retries (same key) only after it failed: no extra promise.
    try {
      response = await runtime.authority.reserve(request);
    } catch (error) {
      response = await retryAfter(error, () => runtime.authority.reserve(request), config.retry, isTransient);
    }
  } catch (error) {
    const code = CyclesError.isInstance(error) ? error.code : 'UNKNOWN';
    const message = error instanceof Error ? error.message : String(error);
    if (AuthorityUnavailableError.isInstance(error) && config.failMode === 'open') {
      runtime.emit({
        type: 'fail-open',
        timeMs: clock.now(),
        subject: state.subject,
        action: state.action,
        unit: state.unit,
        estimate: options.estimate,
        code,
        message,
      });
      return unguardedHold(state);
    }
    if (!AuthorityUnavailableError.isInstance(error)) {
      runtime.emit({
        type: 'denial',
        timeMs: clock.now(),
        subject: state.subject,
        action: state.action,
        unit: state.unit,
        estimate: options.estimate,
        code,
        message,
        ledgerMs: performance.now() - sentAt,
      });
    }
    throw error;
  }
  if (isObservation(response, observe)) {
    runtime.emit(observedEvent(state, response, clock.now()));
    // A server that ignores observe_mode granted a real hold: give it back, the call runs observed.
    if (response.reservationId !== undefined) {
      const releaseKey = `${state.key}:release`;
      runtime.authority.release(response.reservationId, { idempotencyKey: releaseKey }).catch(() => {});
    }
    return observedHold(state, response.decision);
  }
  const ledgerMs = performance.now() - sentAt;
  const reservationId = response.reservationId ?? '';
  const reserved = response.reserved?.amount ?? options.estimate;
  const partial = response.partial === true || reserved < options.estimate;
  if (runtime.listening)
    runtime.emit({
      type: 'decision',
      timeMs: clock.now(),
      subject: state.subject,
      action: state.action,
      unit: state.unit,
      reservationId,
      decision: response.decision,
      estimate: options.estimate,
      reserved,
      partial,
      ...(response.caps === undefined ? {} : { caps: response.caps }),
      ledgerMs,
    });
  if (runtime.outbox?.intents === true) writeIntent(runtime.outbox, state, reservationId, reserved);
  let heartbeat: Heartbeat | undefined;
  if (config.heartbeat && response.remainingTtlMs !== undefined) {
    heartbeat = startHeartbeat(state, {
      reservationId,
      ttlMs: ttlMs ?? response.remainingTtlMs,
      remainingTtlMs: response.remainingTtlMs,
      roundTripMs: clock.now() - startedAt,
    });
  }
  return liveHold(
    state,
    { reservationId, reserved, partial, decision: response.decision, caps: response.caps },
    heartbeat,
  );
}

/**
 * The write-ahead intent of a granted hold (remote authorities): if this process dies before the hold
 * settles (e.g. killed between the provider's answer and the commit), a later process finds it and
 * charges the whole hold, the never-$0 rule for unknown usage. Written in the background.
 */
function writeIntent(
  outbox: SettlementOutbox,
  state: HoldState,
  reservationId: string,
  reserved: number,
): void {
  state.intent = true;
  outbox.writeIntent({
    version: 1,
    key: state.key,
    state: 'intent',
    operation: 'commit',
    reservationId,
    idempotencyKey: `${state.key}:commit`,
    subject: state.subject,
    action: state.action,
    unit: state.unit,
    amount: reserved,
    reserved,
    firstAttemptAtMs: Date.now(),
    ...(state.overagePolicy === undefined ? {} : { overagePolicy: state.overagePolicy }),
  });
}
