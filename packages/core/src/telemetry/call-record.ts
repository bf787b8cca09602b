import type { DecisionEvent, DenialEvent, FailOpenEvent } from '../events.ts';

/**
 * What telemetry knows of one guarded call: plain values and the events' own objects, no SDK object.
 * Filled while the call runs, finished when it settles, and turned into its span and ledger timings
 * on the next turn of the event loop (see `SettledCalls`).
 */
export interface CallRecord {
  /** The event that opened it: the hold's decision, or the denial or fail-open of a call with no hold. */
  readonly opened: DecisionEvent | DenialEvent | FailOpenEvent;
  /** The parent its span gets: the context active when it opened. */
  readonly context: unknown;
  /** `performance.now()` when the reserve was sent: the span's start. */
  readonly startedAt: number;
  /** The reserve's round trip (ms), for the reserve histogram. */
  readonly reserveMs: number | undefined;
  /** Set by `beginLlmCall`: the model, the output limit asked for and the one sent. */
  model: string | undefined;
  requestedMaxTokens: number | undefined;
  maxTokens: number | undefined;
  capReason: string | undefined;
  cutoff: boolean;
  /** Set when it ends. */
  endedAt: number;
  /** `cycles.settlement`; undefined for a refusal. */
  settlement: string | undefined;
  /** True when the call was refused (`cycles.decision` DENY). */
  denied: boolean;
  /** `cycles.ledger_ms`, when the span carries it. */
  ledgerMs: number | undefined;
  /** The settlement's round trip (ms) and which histogram it goes to. */
  settleMs: number | undefined;
  settledBy: 'commit' | 'release' | undefined;
  actual: number | undefined;
  charged: number | undefined;
  inputTokens: number | undefined;
  outputTokens: number | undefined;
  denialCode: string | undefined;
  errorType: string | undefined;
  /** Set for a span with status ERROR: its message. */
  errorMessage: string | undefined;
}

/** A record of a call that opened with `event` in `context`, its reserve sent at `startedAt`. */
export function openRecord(
  opened: CallRecord['opened'],
  context: unknown,
  startedAt: number,
  reserveMs: number | undefined,
): CallRecord {
  return {
    opened,
    context,
    startedAt,
    reserveMs,
    model: undefined,
    requestedMaxTokens: undefined,
    maxTokens: undefined,
    capReason: undefined,
    cutoff: false,
    endedAt: startedAt,
    settlement: undefined,
    denied: false,
    ledgerMs: undefined,
    settleMs: undefined,
    settledBy: undefined,
    actual: undefined,
    charged: undefined,
    inputTokens: undefined,
    outputTokens: undefined,
    denialCode: undefined,
    errorType: undefined,
    errorMessage: undefined,
  };
}
