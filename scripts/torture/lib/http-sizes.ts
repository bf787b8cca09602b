import type { BackendSizes } from './attack.ts';

/**
 * Over HTTP every operation is a request: fewer steps, the noisy tenant's 10,050 reservations finish
 * by expiry (one request each), and its idempotency flood is bounded in time (101,000 events took
 * 36 s over HTTP on a quiet machine; here it stops after 20 s). The quick campaign floods in-process
 * behind the server and checks the victim over HTTP.
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
    flood: {
      reservations: 10_050,
      events: 101_000,
      timeBoundMs: 20_000,
      concurrency: 32,
      finishBy: 'expiry',
    },
  },
};
