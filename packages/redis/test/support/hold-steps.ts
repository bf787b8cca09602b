import fc from 'fast-check';

// The random steps on a hold of the differential and group tests: `hold` picks one of the reservations
// the run has seen by number (holdAt in step-answer.ts), so some steps hit an ended or missing one.

/** Commits the hold with an amount up to `maxAmount`, at times above its estimate (an overage). */
export const commitStep = (maxAmount: number) =>
  fc.record({ kind: fc.constant('commit' as const), hold: fc.nat(20), amount: fc.nat(maxAmount) });

/** Releases the hold. */
export const releaseStep = fc.record({ kind: fc.constant('release' as const), hold: fc.nat(20) });

/** Extends the hold by up to 30 s. */
export const extendStep = fc.record({
  kind: fc.constant('extend' as const),
  hold: fc.nat(20),
  by: fc.integer({ min: 1, max: 30_000 }),
});
