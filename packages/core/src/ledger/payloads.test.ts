import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CommitRequest, ReserveRequest } from '../protocol/types.ts';
import { canonicalJson } from './idempotency.ts';
import {
  commitFingerprint,
  decideFingerprint,
  eventFingerprint,
  extendFingerprint,
  fundingFingerprint,
  releaseFingerprint,
  reserveFingerprint,
} from './payloads.ts';

// Fingerprints must match exactly when the canonical JSON of the payload (key excluded) matches.

const small = <T>(...values: T[]) => fc.constantFrom(...values);
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });

const reserveArb: fc.Arbitrary<ReserveRequest> = fc.record(
  {
    idempotencyKey: small('a', 'b'),
    subject: fc.record(
      {
        tenant: small('acme', 'globex'),
        app: maybe(small('chat', 'ch', 'at')),
        agent: maybe(small('bot', 'chat')),
        dimensions: maybe(fc.dictionary(small('region', 'team'), small('eu', 'us', ''))),
      },
      { requiredKeys: ['tenant'] },
    ),
    action: fc.record(
      {
        kind: small('llm.completion'),
        name: small('m1', 'm2', 'm1|'),
        tags: maybe(fc.array(small('x', 'y'))),
      },
      { requiredKeys: ['kind', 'name'] },
    ),
    estimate: fc.record({
      unit: small('TOKENS' as const, 'CREDITS' as const),
      amount: small(0, 1, 10, 2 ** 40),
    }),
    ttlMs: maybe(small(1000, 60_000)),
    gracePeriodMs: maybe(small(0, 5000)),
    overagePolicy: maybe(small('REJECT' as const, 'ALLOW_IF_AVAILABLE' as const)),
    dryRun: maybe(fc.boolean()),
    minimum: maybe(small(0, 1)),
    metadata: maybe(
      fc.dictionary(small('a', 'b'), fc.oneof(small<unknown>(1, '1', null), fc.array(small(1, 2)))),
    ),
  },
  { requiredKeys: ['idempotencyKey', 'subject', 'action', 'estimate'] },
);

function canonical(request: ReserveRequest): string {
  const { idempotencyKey: _key, dryRun, ...rest } = request;
  return canonicalJson({ ...rest, dryRun: dryRun === true });
}

describe('payload fingerprints', () => {
  it('reserve: equal fingerprints exactly when the canonical payloads are equal', () => {
    fc.assert(
      fc.property(reserveArb, reserveArb, (a, b) => {
        expect(reserveFingerprint(a) === reserveFingerprint(b)).toBe(canonical(a) === canonical(b));
      }),
      { numRuns: 3000 },
    );
  });

  it('commit: equal fingerprints exactly when the canonical payloads are equal (metrics of any shape)', () => {
    // Standard metrics are hashed field by field, any other shape as canonical JSON: both must agree
    // with the canonical payloads. Values are valid ones (fingerprints run after validation), and the
    // domains are tiny, so pairs that differ in a single field are frequent.
    const anyValue = fc.oneof(small<unknown>(undefined, undefined, 1), fc.dictionary(small('a'), small(1)));
    const metricsArb = fc.record(
      {
        tokensInput: maybe(small(0, 2 ** 40)),
        tokensOutput: maybe(small(0)),
        latencyMs: maybe(small(0)),
        modelVersion: maybe(small('')),
        custom: anyValue,
        extra: anyValue,
      },
      { requiredKeys: [] },
    );
    const commitArb = fc.record(
      {
        idempotencyKey: small('a', 'b'),
        actual: fc.record({ unit: small('TOKENS' as const), amount: small(0, 2 ** 33) }),
        metrics: maybe(metricsArb),
        metadata: maybe(fc.dictionary(small('a'), small<unknown>(1))),
      },
      { requiredKeys: ['idempotencyKey', 'actual'] },
    ) as fc.Arbitrary<CommitRequest>;
    const canonicalCommit = ({ idempotencyKey: _key, ...rest }: CommitRequest) => canonicalJson(rest);
    // Pairs that differ in at most one metrics field, and unrelated pairs.
    const edit = fc.oneof(
      fc.tuple(small('tokensInput', 'tokensOutput', 'latencyMs'), small<unknown>(undefined, 0, 1)),
      fc.tuple(small('modelVersion'), small<unknown>(undefined, '', 'x')),
      fc.tuple(small('custom', 'extra'), small<unknown>(undefined, 1)),
    );
    const edited = fc.tuple(commitArb, edit).map(([a, [key, value]]) => {
      return [a, { ...a, metrics: { ...a.metrics, [key]: value } }] as [CommitRequest, CommitRequest];
    });
    fc.assert(
      fc.property(fc.oneof(edited, fc.tuple(commitArb, commitArb)), ([a, b]) => {
        expect(commitFingerprint(a) === commitFingerprint(b)).toBe(canonicalCommit(a) === canonicalCommit(b));
      }),
      { numRuns: 3000 },
    );
    const commit = { idempotencyKey: 'k', actual: { unit: 'TOKENS' as const, amount: 1 } };
    const standard = { tokensInput: 3, tokensOutput: 4, modelVersion: 'm' };
    expect(commitFingerprint({ ...commit, metrics: { ...standard, note: undefined } as never })).toBe(
      commitFingerprint({ ...commit, metrics: { modelVersion: 'm', tokensOutput: 4, tokensInput: 3 } }),
    );
    expect(commitFingerprint({ ...commit, metrics: { ...standard, note: 1 } as never })).not.toBe(
      commitFingerprint({ ...commit, metrics: standard }),
    );
  });

  it('ignore member order in free-form parts and treat an absent dryRun as false', () => {
    const base: ReserveRequest = {
      idempotencyKey: 'k',
      subject: { tenant: 'acme', dimensions: { a: '1', b: '2' } },
      action: { kind: 'llm.completion', name: 'm' },
      estimate: { unit: 'TOKENS', amount: 5 },
      metadata: { x: 1, y: { p: 1, q: 2 } },
    };
    const reordered: ReserveRequest = {
      ...base,
      subject: { dimensions: { b: '2', a: '1' }, tenant: 'acme' },
      metadata: { y: { q: 2, p: 1 }, x: 1 },
      dryRun: false,
    };
    expect(reserveFingerprint(reordered)).toBe(reserveFingerprint(base));
    expect(reserveFingerprint({ ...base, dryRun: true })).not.toBe(reserveFingerprint(base));
  });

  it('never confuse adjacent fields or operations', () => {
    const subject = { tenant: 'acme' };
    const action = { kind: 'k', name: 'n' };
    const event = (overagePolicy?: 'REJECT') => ({
      idempotencyKey: 'k',
      subject,
      action,
      actual: { unit: 'TOKENS' as const, amount: 1 },
      ...(overagePolicy ? { overagePolicy } : {}),
    });
    expect(eventFingerprint(event())).not.toBe(eventFingerprint(event('REJECT')));
    expect(eventFingerprint({ ...event(), clientTimeMs: 1 })).not.toBe(eventFingerprint(event()));
    const commit = { idempotencyKey: 'k', actual: { unit: 'TOKENS' as const, amount: 1 } };
    expect(commitFingerprint({ ...commit, metadata: {} })).not.toBe(commitFingerprint(commit));
    expect(commitFingerprint({ ...commit, actual: { unit: 'TOKENS', amount: 2 ** 32 + 1 } })).not.toBe(
      commitFingerprint(commit),
    );
  });
});

describe('payload fingerprints of release, extend, decide and funding (the Redis ledger stores them too)', () => {
  const small = <T>(...values: T[]) => fc.constantFrom(...values);
  const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
  const free = maybe(fc.dictionary(small('a', 'b'), small<unknown>(1, '1', null, [1])));
  /** Equal fingerprints exactly when the canonical JSON of what is fingerprinted is equal. */
  const agrees = <T>(arb: fc.Arbitrary<T>, print: (value: T) => number, canonical: (value: T) => unknown) =>
    fc.assert(
      fc.property(arb, arb, (a, b) => {
        expect(print(a) === print(b)).toBe(canonicalJson(canonical(a)) === canonicalJson(canonical(b)));
      }),
      { numRuns: 2000 },
    );

  it('release', () => {
    const arb = fc.record({ idempotencyKey: small('k'), reason: maybe(small('', 'done', 'don')) });
    agrees(arb, releaseFingerprint, ({ reason }) => ({ reason }));
  });

  it('extend', () => {
    const arb = fc.record({
      idempotencyKey: small('k'),
      extendByMs: small(1, 1000, 2 ** 40),
      metadata: free,
    });
    agrees(arb, extendFingerprint, ({ idempotencyKey: _key, ...rest }) => rest);
  });

  it('decide', () => {
    const arb = fc.record({
      idempotencyKey: small('k'),
      subject: fc.record(
        { tenant: small('acme', 'acm'), app: maybe(small('e', 'chat')) },
        { requiredKeys: [] },
      ),
      action: fc.record({ kind: small('llm'), name: small('m', 'm2'), tags: maybe(fc.array(small('x'))) }),
      estimate: fc.record({
        unit: small('TOKENS' as const, 'CREDITS' as const),
        amount: small(0, 1, 2 ** 33),
      }),
      metadata: free,
    });
    agrees(arb, decideFingerprint, ({ idempotencyKey: _key, ...rest }) => rest);
  });

  it('funding (any shape: Redis fingerprints it before its script checks the amounts)', () => {
    const funding = fc.oneof(
      fc.record({ operation: small('CREDIT', 'DEBIT'), amount: small(0, 1, -1, 1.5) }),
      fc.record({ operation: small('RESET_SPENT'), amount: small(0), spent: maybe(small(0, 1)) }),
      small<unknown>(undefined, null, 'CREDIT', { amount: 1 }),
    );
    const arb = fc.tuple(funding, maybe(small('', 'top-up')));
    agrees(
      arb,
      ([value, reason]) => fundingFingerprint(value, reason),
      ([value, reason]) => ({ funding: value, reason }),
    );
  });
});
