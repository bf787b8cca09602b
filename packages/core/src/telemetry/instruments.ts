import { CumulativeSums } from './cumulative-sums.ts';
import { CYCLES, GEN_AI, METRICS } from './names.ts';
import type { OtelAttributes, OtelCounter, OtelHistogram, OtelMeter } from './otel-api.ts';

/**
 * The metric instruments of one Cycles instance. What every guarded call adds (spend, output-token
 * limits) is summed here and read by observable counters at collection time; the synchronous
 * instruments record only what is rarer (denials, cuts, outbox moves) and one latency per ledger trip.
 */
export interface Instruments {
  /** Spend by scope, model and unit; one column: the amount charged. */
  spend: CumulativeSums;
  /** Output-token limits by model; columns `REQUESTED` and `GRANTED`. */
  tokens: CumulativeSums;
  denials: OtelCounter;
  capCuts: OtelCounter;
  ledgerDuration: OtelHistogram;
  outboxDepth: OtelCounter;
}

/** Columns of `Instruments.tokens`. */
export const REQUESTED = 0;
export const GRANTED = 1;

/** Ledger round trips: 50 µs to 5 s. */
const LATENCY_BUCKETS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];

/** The attribute sets of `cycles.ledger.duration`, built once (the SDK hashes them per record). */
export const LEDGER_OPERATIONS = {
  reserve: ledgerAttributes('reserve', 'ok'),
  reserveRefused: ledgerAttributes('reserve', 'error'),
  commit: ledgerAttributes('commit', 'ok'),
  commitViaEvent: ledgerAttributes('createEvent', 'ok'),
  release: ledgerAttributes('release', 'ok'),
} as const;

function ledgerAttributes(operation: string, outcome: string): OtelAttributes {
  return Object.freeze({ [CYCLES.operation]: operation, [CYCLES.outcome]: outcome });
}

/** Creates the instruments; `liveHolds` is read at collection time (no cost per call). */
export function createInstruments(meter: OtelMeter, liveHolds: () => number): Instruments {
  meter
    .createObservableGauge(METRICS.liveHolds, {
      description: 'Reservations granted and not yet settled, that this process holds',
      unit: '{reservation}',
    })
    .addCallback((result) => result.observe(liveHolds()));
  const spend = new CumulativeSums([CYCLES.scope, GEN_AI.requestModel, CYCLES.unit], 1);
  meter
    .createObservableCounter(METRICS.spend, {
      description: 'Amount charged by committed holds and events, in the unit named by cycles.unit',
      unit: '{amount}',
    })
    .addCallback((result) => spend.observe(0, (value, attributes) => result.observe(value, attributes)));
  const tokens = new CumulativeSums([GEN_AI.requestModel], 2);
  meter
    .createObservableCounter(METRICS.tokensRequested, {
      description: 'Output-token limits LLM calls asked for',
      unit: '{token}',
    })
    .addCallback((result) =>
      tokens.observe(REQUESTED, (value, attributes) => result.observe(value, attributes)),
    );
  meter
    .createObservableCounter(METRICS.tokensGranted, {
      description: 'Output-token limits LLM calls were sent with (after the budget cut)',
      unit: '{token}',
    })
    .addCallback((result) =>
      tokens.observe(GRANTED, (value, attributes) => result.observe(value, attributes)),
    );
  return {
    spend,
    tokens,
    denials: meter.createCounter(METRICS.denials, {
      description: 'Calls refused before anything was sent, by error code',
      unit: '{call}',
    }),
    capCuts: meter.createCounter(METRICS.capCuts, {
      description: 'LLM calls whose output-token limit was lowered, by reason (budget or caps)',
      unit: '{call}',
    }),
    ledgerDuration: meter.createHistogram(METRICS.ledgerDuration, {
      description: 'Round trip of one ledger operation of a guarded call (reserve, commit, release)',
      unit: 's',
      advice: { explicitBucketBoundaries: LATENCY_BUCKETS },
    }),
    outboxDepth: meter.createUpDownCounter(METRICS.outboxDepth, {
      description:
        'Settlements queued in the durable outbox and not yet confirmed (since this process started)',
      unit: '{settlement}',
    }),
  };
}
