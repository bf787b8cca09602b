import { METRICS } from './names.ts';
import type { OtelCounter, OtelHistogram, OtelMeter } from './otel-api.ts';

/** The metric instruments of one Cycles instance. */
export interface Instruments {
  spend: OtelCounter;
  denials: OtelCounter;
  capCuts: OtelCounter;
  tokensRequested: OtelCounter;
  tokensGranted: OtelCounter;
  ledgerDuration: OtelHistogram;
  outboxDepth: OtelCounter;
}

/** Ledger round trips: 50 µs to 5 s. */
const LATENCY_BUCKETS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];

/** Creates the instruments; `liveHolds` is read at collection time (no cost per call). */
export function createInstruments(meter: OtelMeter, liveHolds: () => number): Instruments {
  meter
    .createObservableGauge(METRICS.liveHolds, {
      description: 'Reservations granted and not yet settled, that this process holds',
      unit: '{reservation}',
    })
    .addCallback((result) => result.observe(liveHolds()));
  return {
    spend: meter.createCounter(METRICS.spend, {
      description: 'Amount charged by committed holds and events, in the unit named by cycles.unit',
      unit: '{amount}',
    }),
    denials: meter.createCounter(METRICS.denials, {
      description: 'Calls refused before anything was sent, by error code',
      unit: '{call}',
    }),
    capCuts: meter.createCounter(METRICS.capCuts, {
      description: 'LLM calls whose output-token limit was lowered, by reason (budget or caps)',
      unit: '{call}',
    }),
    tokensRequested: meter.createCounter(METRICS.tokensRequested, {
      description: 'Output-token limits LLM calls asked for',
      unit: '{token}',
    }),
    tokensGranted: meter.createCounter(METRICS.tokensGranted, {
      description: 'Output-token limits LLM calls were sent with (after the budget cut)',
      unit: '{token}',
    }),
    ledgerDuration: meter.createHistogram(METRICS.ledgerDuration, {
      description: 'Round trip of one ledger operation (reserve, commit, release, extend, event)',
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
