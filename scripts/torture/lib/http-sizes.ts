import type { BackendSizes } from './attack.ts';

/**
 * Over HTTP every operation is a request: fewer steps, and the idempotency flood is bounded in time
 * (101,000 events take about 36 s over HTTP; the full campaign tries for all of them within 60 s).
 * The quick campaign floods in-process behind the server and checks the victim over HTTP.
 */
export const HTTP_SIZES: { quick: BackendSizes; full: BackendSizes } = {
  quick: {
    runs: 2,
    steps: 60,
    flood: { reservations: 10_050, events: 101_000, timeBoundMs: 3000, concurrency: 8, floodInProcess: true },
  },
  full: {
    runs: 6,
    steps: 250,
    flood: { reservations: 10_050, events: 101_000, timeBoundMs: 60_000, concurrency: 32 },
  },
};
