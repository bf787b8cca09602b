import { Decision, type Unit } from '../protocol/enums.ts';
import { invalid } from '../protocol/errors.ts';
import type { Action, Caps, Metadata, StandardMetrics, Subject } from '../protocol/types.ts';
import type { Heartbeat } from './heartbeat.ts';
import type { Hold, Settlement } from './hold-types.ts';
import { commitHold, type Granted, type HoldState, releaseHold } from './settle.ts';

// The settle-once handles `reserveHold` returns: a granted hold, or an unguarded (fail-open) one.

export function checkAmount(field: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) {
    throw invalid(field, `must be a non-negative safe integer, got ${String(value)}`);
  }
}

export function liveHold(state: HoldState, granted: Granted, heartbeat: Heartbeat | undefined): Hold {
  return new LiveHold(state, granted, heartbeat);
}

/** A granted hold. A class, not an object literal with getters: one is made per guarded call. */
class LiveHold implements Hold {
  readonly reservationId: string;
  readonly guarded = true;
  readonly subject: Subject;
  readonly action: Action;
  readonly unit: Unit;
  readonly estimate: number;
  readonly reserved: number;
  readonly partial: boolean;
  readonly decision: Decision;
  readonly caps: Caps | undefined;
  readonly #state: HoldState;
  readonly #granted: Granted;
  readonly #heartbeat: Heartbeat | undefined;
  #settlement: Promise<Settlement> | undefined;

  constructor(state: HoldState, granted: Granted, heartbeat: Heartbeat | undefined) {
    this.reservationId = granted.reservationId;
    this.subject = state.subject;
    this.action = state.action;
    this.unit = state.unit;
    this.estimate = state.estimate;
    this.reserved = granted.reserved;
    this.partial = granted.partial;
    this.decision = granted.decision;
    this.caps = granted.caps;
    this.#state = state;
    this.#granted = granted;
    this.#heartbeat = heartbeat;
  }

  get settled(): boolean {
    return this.#settlement !== undefined;
  }

  get settlement(): Promise<Settlement> | undefined {
    return this.#settlement;
  }

  // Settles once: the first commit or release starts the settlement, later calls get the same one.
  // (Checked inline rather than through a settle-once helper taking a closure: a hot path.)
  commit(actual: number, metrics?: StandardMetrics, metadata?: Metadata): Promise<Settlement> {
    checkAmount('actual', actual);
    if (this.#settlement !== undefined) return this.#settlement;
    this.#heartbeat?.stop();
    return this.#started(commitHold(this.#state, this.#granted, actual, metrics, metadata));
  }

  release(reason?: string): Promise<Settlement> {
    if (this.#settlement !== undefined) return this.#settlement;
    this.#heartbeat?.stop();
    return this.#started(releaseHold(this.#state, this.#granted, reason));
  }

  #started(settlement: Promise<Settlement>): Promise<Settlement> {
    this.#settlement = settlement;
    this.#state.runtime.outbox?.track(settlement); // `flushSettlements` waits for it
    settlement.catch(ignore); // Callers see the rejection; avoid an unhandled one for duplicates.
    return settlement;
  }
}

function ignore(): void {}

/** A hold for a call that runs unguarded (fail-open): settles to `unguarded` and charges nothing. */
export function unguardedHold(state: HoldState): Hold {
  let settlement: Promise<Settlement> | undefined;
  const once = (actual: number) => {
    settlement ??= Promise.resolve({ status: 'unguarded', reservationId: '', actual });
    return settlement;
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
    decision: Decision.ALLOW,
    caps: undefined,
    get settled() {
      return settlement !== undefined;
    },
    get settlement() {
      return settlement;
    },
    commit: (actual) => once(actual),
    release: () => once(0),
  };
}
