// The hold's public types, apart from hold.ts so the modules that settle or extend a hold (settle,
// heartbeat, hold handles, llm calls) can name them without importing hold.ts back: no import cycle.
import type { Decision, OveragePolicy, Unit } from '../protocol/enums.ts';
import type { Action, Caps, Metadata, StandardMetrics, Subject } from '../protocol/types.ts';

/** What to reserve. */
export interface ReserveOptions {
  /** Merged over the instance's default subject and the budget context's subject. */
  subject?: Subject;
  /**
   * What is being paid for.
   * @default the budget context's action, else `{ kind: 'custom', name: 'guarded' }`
   */
  action?: Action;
  /** Worst-case cost, in `unit`. */
  estimate: number;
  /**
   * **Partial hold.** If `estimate` does not fit but this does, hold the largest amount that fits.
   * @default no partial hold: the full estimate or BudgetExceededError
   */
  minimum?: number;
  /**
   * Unit of `estimate`.
   * @default the instance's unit
   */
  unit?: Unit;
  /** @default the instance's `ttlMs` */
  ttlMs?: number;
  /** @default the instance's `gracePeriodMs` */
  gracePeriodMs?: number;
  /** @default the instance's `overagePolicy` */
  overagePolicy?: OveragePolicy;
  /** Stored with the reservation. */
  metadata?: Metadata;
}

/** How a hold ended. */
export type Settlement =
  | {
      status: 'committed';
      reservationId: string;
      actual: number;
      /** What the authority charged (below `actual` only if an overrun was capped). */
      charged: number;
      /** What went back to the budget. */
      released: number;
      /** True when the hold had expired and the charge was posted as an event. */
      viaEvent: boolean;
    }
  | { status: 'released'; reservationId: string; released: number; expired: boolean }
  /** A fail-open hold: nothing was reserved, so nothing is charged. */
  | { status: 'unguarded'; reservationId: ''; actual: number };

/** A live reservation. Settles exactly once: later or concurrent calls get the first outcome. */
export interface Hold {
  /** `''` for an unguarded (fail-open) hold. */
  readonly reservationId: string;
  /** False when the authority was unreachable and `failMode` is `open`. */
  readonly guarded: boolean;
  readonly subject: Subject;
  readonly action: Action;
  readonly unit: Unit;
  /** What was asked for. */
  readonly estimate: number;
  /** What is held (less than `estimate` for a partial hold; 0 when unguarded). */
  readonly reserved: number;
  readonly partial: boolean;
  readonly decision: Decision;
  /** Soft limits from ALLOW_WITH_CAPS: the caller must apply them. */
  readonly caps: Caps | undefined;
  /** True once commit or release was called. */
  readonly settled: boolean;
  /** The settlement in progress or done, once one was started. */
  readonly settlement: Promise<Settlement> | undefined;
  /**
   * Charges `actual` (may exceed the hold; the overage policy decides). Retries transient failures with
   * the same key; if the hold expired (410) posts the charge as an event with the same key.
   */
  commit(actual: number, metrics?: StandardMetrics, metadata?: Metadata): Promise<Settlement>;
  /** Returns the hold unused. Only for work that certainly cost nothing. */
  release(reason?: string): Promise<Settlement>;
}

/** Options of `cycles.guard`: what to reserve, plus how to price the result. */
export interface GuardOptions<T> extends ReserveOptions {
  /**
   * The real cost, computed from the result.
   * @default what was held (the estimate, or less for a partial hold)
   */
  actual?: (result: T, hold: Hold) => number;
  /**
   * Refuses to start when already aborted.
   * @default the budget context's signal
   */
  signal?: AbortSignal;
}
