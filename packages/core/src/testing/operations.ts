import fc, { type Arbitrary } from 'fast-check';
import { SUBJECT_LEVELS as LEVELS, OVERAGE_POLICIES, type OveragePolicy } from '../protocol/enums.ts';
import type { Subject } from '../protocol/types.ts';

// Random operation sequences shared by the property suites (properties.ts: invariants under concurrent
// batches; model-properties.ts: step-by-step agreement with the settlement model), over 1–6 scope levels.

const VALUES = ['acme', 'ws', 'app', 'flow', 'agent', 'tools'] as const;

/** The canonical scope path of the first `depth` levels, e.g. `tenant:acme/workspace:ws`. */
export function scopeAt(depth: number): string {
  return LEVELS.slice(0, depth)
    .map((level, index) => `${level}:${VALUES[index]}`)
    .join('/');
}

/** The subject whose leaf scope is `scopeAt(depth)`. */
export function subjectFor(depth: number): Subject {
  const subject: Record<string, string> = {};
  for (let index = 0; index < depth; index += 1) subject[LEVELS[index]!] = VALUES[index]!;
  return subject as Subject;
}

/**
 * One random operation. `target` picks an earlier reservation (modulo how many exist). Reserve and
 * event carry their own overage policy and reserve a partial-hold minimum; a suite that fixes one policy
 * per scenario ignores them.
 */
export type Operation =
  | {
      kind: 'reserve';
      estimate: number;
      minimum: number | null;
      policy: OveragePolicy;
      ttlMs: number;
      gracePeriodMs: number;
    }
  | { kind: 'commit'; target: number; actual: number }
  | { kind: 'release'; target: number }
  | { kind: 'extend'; target: number; extendByMs: number }
  | { kind: 'event'; actual: number; policy: OveragePolicy }
  | { kind: 'advance'; ms: number };

/** Ranges and weights that differ between the suites. */
export interface OperationShape {
  /** Largest reserve estimate. */
  estimateMax: number;
  /** Largest event amount. */
  eventActualMax: number;
  /** Largest clock advance in one step (ms). */
  advanceMaxMs: number;
  /** Weight of events (reserve 4, commit 3, release, extend and advance 1). */
  eventWeight: number;
}

const policyArbitrary = fc.constantFrom(...OVERAGE_POLICIES);

/** Weighted random operations: mostly reserve and commit, some release, extend, event and time. */
export function operationArbitrary(shape: OperationShape): Arbitrary<Operation> {
  return fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('reserve' as const),
        estimate: fc.integer({ min: 0, max: shape.estimateMax }),
        minimum: fc.option(fc.integer({ min: 0, max: 200 }), { nil: null, freq: 3 }),
        policy: policyArbitrary,
        ttlMs: fc.integer({ min: 1000, max: 20_000 }),
        gracePeriodMs: fc.integer({ min: 0, max: 5000 }),
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('commit' as const),
        target: fc.nat(),
        actual: fc.integer({ min: 0, max: 900 }),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('release' as const), target: fc.nat() }) },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('extend' as const),
        target: fc.nat(),
        extendByMs: fc.integer({ min: 1, max: 10_000 }),
      }),
    },
    {
      weight: shape.eventWeight,
      arbitrary: fc.record({
        kind: fc.constant('event' as const),
        actual: fc.integer({ min: 0, max: shape.eventActualMax }),
        policy: policyArbitrary,
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('advance' as const),
        ms: fc.integer({ min: 0, max: shape.advanceMaxMs }),
      }),
    },
  );
}
