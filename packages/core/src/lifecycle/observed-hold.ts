import type { ObservedEvent } from '../events.ts';
import { Decision } from '../protocol/enums.ts';
import type { Metadata, ReserveResponse, StandardMetrics } from '../protocol/types.ts';
import type { Hold, Settlement } from './hold-types.ts';
import { withRetry } from './retry.ts';
import type { HoldState } from './settle.ts';

// Observe mode (`createCycles({ mode: 'observe' })`, or a tenant whose default is to observe): the
// authority evaluates each call as usual but holds nothing; the call runs uncapped and is never refused,
// and an `observed` event says what enforcement would have decided. What the call really cost is still
// recorded, as a direct debit (an event), so budgets fill up as they would and later observations show
// when enforcement would start refusing.

/** Whether a reserve answer is an observation (no hold): observe mode, or the tenant's default. */
export function isObservation(response: ReserveResponse, requested: boolean): boolean {
  return requested || response.reservationId === undefined || response.decision === Decision.DENY;
}

/** The `observed` event of an answer. */
export function observedEvent(state: HoldState, response: ReserveResponse, timeMs: number): ObservedEvent {
  const event: ObservedEvent = {
    type: 'observed',
    timeMs,
    subject: state.subject,
    action: state.action,
    unit: state.unit,
    estimate: state.estimate,
    decision: response.decision,
    wouldDeny: response.decision === Decision.DENY,
  };
  if (response.reasonCode !== undefined) event.reasonCode = response.reasonCode;
  if (response.denyDetail !== undefined) event.denyDetail = response.denyDetail;
  if (response.decision !== Decision.DENY) event.wouldReserve = response.reserved?.amount ?? state.estimate;
  if (response.caps !== undefined) event.caps = response.caps;
  return event;
}

/**
 * The hold of an observed call: unguarded (no output cap, no stream cutoff), settling once. A commit
 * records the actual cost as a direct debit with the hold's key (retried like any settlement); a
 * release records nothing.
 */
export function observedHold(state: HoldState, decision: Decision): Hold {
  let settlement: Promise<Settlement> | undefined;
  const record = async (
    actual: number,
    metrics?: StandardMetrics,
    metadata?: Metadata,
  ): Promise<Settlement> => {
    if (actual === 0) return { status: 'released', reservationId: '', released: 0, expired: false };
    const { runtime } = state;
    const response = await withRetry(
      () =>
        runtime.authority.createEvent({
          idempotencyKey: `${state.key}:commit`,
          subject: state.subject,
          action: state.action,
          actual: { unit: state.unit, amount: actual },
          ...(state.overagePolicy === undefined ? {} : { overagePolicy: state.overagePolicy }),
          ...(metrics === undefined ? {} : { metrics }),
          ...(metadata === undefined ? {} : { metadata }),
        }),
      runtime.config.retry,
    );
    const charged = response.charged?.amount ?? actual;
    return { status: 'committed', reservationId: '', actual, charged, released: 0, viaEvent: true };
  };
  return {
    reservationId: '',
    guarded: false,
    subject: state.subject,
    action: state.action,
    unit: state.unit,
    estimate: state.estimate,
    reserved: 0,
    partial: false,
    decision,
    caps: undefined,
    get settled() {
      return settlement !== undefined;
    },
    get settlement() {
      return settlement;
    },
    commit(actual, metrics, metadata) {
      settlement ??= record(actual, metrics, metadata);
      return settlement;
    },
    release() {
      settlement ??= Promise.resolve({ status: 'released', reservationId: '', released: 0, expired: false });
      return settlement;
    },
  };
}
