import { CumulativeSums } from './cumulative-sums.ts';
import { CYCLES, GEN_AI, METRICS } from './names.ts';
import type { OtelCounter, OtelHistogram, OtelMeter } from './otel-api.ts';

/**
 * The metric instruments of one Cycles instance. What every guarded call adds (spend, output-token
 * limits) is summed here and read by observable counters at collection time; the synchronous
 * instruments record only what is rarer (denials, cuts, outbox moves) and one latency per ledger trip.
 * The latencies have no attributes: the SDK hashes a record's attribute set every time (sorted keys,
 * JSON), which costs several times the record itself, so each operation has its own histogram.
 */
export interface Instruments {
  /** Spend by scope, model and unit; one column: the amount charged. */
  spend: CumulativeSums;
  /** Output-token limits by model; columns `REQUESTED` and `GRANTED`. */
  tokens: CumulativeSums;
  denials: OtelCounter;
  capCuts: OtelCounter;
  /** Ledger round trips, one histogram per operation (see `ledgerHistogram`). */
  reserveDuration: OtelHistogram;
  commitDuration: OtelHistogram;
  releaseDuration: OtelHistogram;
  outboxDepth: OtelCounter;
}

/** Columns of `Instruments.tokens`. */
export const REQUESTED = 0;
export const GRANTED = 1;

/** Ledger round trips: 50 µs to 5 s. */
const LATENCY_BUCKETS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];

/** What the spans keep, read at collection time (no cost per call). */
export interface SpanCounts {
  /** Holds granted and not settled. */
  readonly openCount: number;
  /** Finished calls whose span and settlement timing were dropped. */
  readonly dropped: number;
}

/** Creates the instruments. */
export function createInstruments(meter: OtelMeter, spans: SpanCounts): Instruments {
  meter
    .createObservableGauge(METRICS.liveHolds, {
      description: 'Reservations granted and not yet settled, that this process holds',
      unit: '{reservation}',
    })
    .addCallback((result) => result.observe(spans.openCount));
  meter
    .createObservableCounter(METRICS.droppedSpans, {
      description:
        'Settled calls whose span and settlement timing were dropped: more than maxPendingSpans settled in one turn of the event loop',
      unit: '{call}',
    })
    .addCallback((result) => result.observe(spans.dropped));
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
    reserveDuration: ledgerHistogram(meter, METRICS.reserveDuration, 'reserve (granted or refused)'),
    commitDuration: ledgerHistogram(
      meter,
      METRICS.commitDuration,
      'commit (with the event that posts the charge of a hold that expired)',
    ),
    releaseDuration: ledgerHistogram(meter, METRICS.releaseDuration, 'release'),
    outboxDepth: meter.createUpDownCounter(METRICS.outboxDepth, {
      description:
        'Settlements queued in the durable outbox and not yet confirmed (since this process started)',
      unit: '{settlement}',
    }),
  };
}

function ledgerHistogram(meter: OtelMeter, name: string, operation: string): OtelHistogram {
  return meter.createHistogram(name, {
    description: `Ledger round trip of a guarded call's ${operation}, retries included`,
    unit: 's',
    advice: { explicitBucketBoundaries: LATENCY_BUCKETS },
  });
}
