import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type IdempotencyRecord, IdempotencyStore, type RecordClass } from './idempotency.ts';

describe('IdempotencyStore', () => {
  it('replays the same fingerprint and refuses a different one with IDEMPOTENCY_MISMATCH', () => {
    const store = new IdempotencyStore({ maxPerTenant: 10, replayWindowMs: 0 });
    const space = store.space('acme', 'decide');
    store.store(space, 'k', 42, { decision: 'ALLOW' }, 1000, 'replaceable', 0);
    expect(store.lookup(space, 'k', 42, 999)?.response).toEqual({ decision: 'ALLOW' });
    expect(() => store.lookup(space, 'k', 43, 999)).toThrow(/different payload/);
    expect(store.lookup(space, 'k', 42, 1000)).toBeUndefined();
    expect(store.size).toBe(0);
  });

  it('keeps tenants and endpoints apart', () => {
    const store = new IdempotencyStore({ maxPerTenant: 10, replayWindowMs: 0 });
    store.store(store.space('acme', 'event'), 'k', 1, 'acme', 1000, 'durable', 0);
    expect(store.lookup(store.space('globex', 'event'), 'k', 2, 0)).toBeUndefined();
    expect(store.lookup(store.space('acme', 'decide'), 'k', 2, 0)).toBeUndefined();
    expect(store.lookup(store.space('acme', 'event'), 'k', 1, 0)?.response).toBe('acme');
  });

  it('evicts replaceable records first, durable ones next, pinned ones never (nor counted)', () => {
    const store = new IdempotencyStore({ maxPerTenant: 1, replayWindowMs: 0 });
    const space = store.space('', 'mixed');
    const pinned = store.store(space, 'pinned', 1, 'p', 10, 'pinned', 0);
    store.store(space, 'durable', 1, 'd', 10, 'durable', 0);
    store.store(space, 'replaceable', 1, 'r', 10, 'replaceable', 0);
    // Over the cap by one: the replaceable record went.
    expect(store.lookup(space, 'replaceable', 1, 0)).toBeUndefined();
    expect(store.lookup(space, 'durable', 1, 0)?.response).toBe('d');
    store.store(space, 'durable-2', 1, 'd2', 10, 'durable', 0);
    expect(store.lookup(space, 'durable', 1, 0)).toBeUndefined();
    expect(store.lookup(space, 'durable-2', 1, 0)?.response).toBe('d2');
    // Pinned outlives both the cap and its expiry until unpinned.
    expect(store.lookup(space, 'pinned', 1, 50)?.response).toBe('p');
    store.unpin(pinned, 50);
    expect(store.lookup(space, 'pinned', 1, 50)).toBeUndefined();
  });

  it('drops expired records from the queue fronts so memory returns to zero', () => {
    const store = new IdempotencyStore({ maxPerTenant: 1000, replayWindowMs: 0 });
    const space = store.space('acme', 'decide');
    for (let i = 0; i < 100; i++) store.store(space, `k${i}`, i, i, 100 + i, 'replaceable', i);
    expect(store.size).toBe(100);
    store.prune(150);
    expect(store.size).toBe(49);
    store.prune(10_000);
    expect(store.size).toBe(0);
  });
});

/** Random store / unpin / (lookup) / clock-advance steps for the model checks below. */
type Step =
  | { op: 'store'; key: number; kind: 'pinned' | 'replaceable' | 'durable'; ttl: number }
  | { op: 'unpin'; key: number }
  | { op: 'lookup'; key: number }
  | { op: 'advance'; ms: number };

function steps(limits: {
  maxKey: number;
  maxTtl: number;
  maxAdvance: number;
  lookups: boolean;
}): fc.Arbitrary<Step> {
  const key = fc.nat(limits.maxKey);
  const choices: fc.Arbitrary<Step>[] = [
    fc.record({
      op: fc.constant('store' as const),
      key,
      kind: fc.constantFrom('pinned' as const, 'replaceable' as const, 'durable' as const),
      ttl: fc.integer({ min: 1, max: limits.maxTtl }),
    }),
    fc.record({ op: fc.constant('unpin' as const), key }),
    fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: limits.maxAdvance }) }),
  ];
  if (limits.lookups) choices.push(fc.record({ op: fc.constant('lookup' as const), key }));
  return fc.oneof(...choices);
}

describe('IdempotencyStore under random use (model check)', () => {
  const step = steps({ maxKey: 30, maxTtl: 100, maxAdvance: 40, lookups: false });

  it('never loses a pinned record, never replays an expired one, and stays within the cap', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.array(step, { maxLength: 200 }), (cap, steps) => {
        const store = new IdempotencyStore({ maxPerTenant: cap, replayWindowMs: 0 });
        const space = store.space('t', 'e');
        const pinned = new Map<number, IdempotencyRecord<number>>();
        let now = 0;
        for (const s of steps) {
          if (s.op === 'advance') now += s.ms;
          else if (s.op === 'unpin') {
            const record = pinned.get(s.key);
            if (record !== undefined) store.unpin(record, now);
            pinned.delete(s.key);
          } else if (
            s.op === 'store' &&
            !pinned.has(s.key) &&
            store.lookup(space, `k${s.key}`, s.key, now) === undefined
          ) {
            const record = store.store(space, `k${s.key}`, s.key, s.key, now + s.ttl, s.kind, now);
            if (s.kind === 'pinned') pinned.set(s.key, record);
          }
          // Pinned records always answer, whatever the cap and the clock.
          for (const key of pinned.keys())
            expect(store.lookup(space, `k${key}`, key, now)?.response).toBe(key);
          // Beyond the pinned ones (bounded by live reservations), no more than the cap is kept.
          expect(store.size).toBeLessThanOrEqual(cap + pinned.size);
          // Nothing unpinned is answered at or past its expiry.
          for (let key = 0; key <= 30; key++) {
            const record = store.lookup(space, `k${key}`, key, now);
            if (record !== undefined && !record.pinned) expect(record.expiresAtMs).toBeGreaterThan(now);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('IdempotencyStore record reuse', () => {
  const step = steps({ maxKey: 20, maxTtl: 60, maxAdvance: 30, lookups: true });

  it('answers every key with the outcome last stored for it, and hands back only unreachable responses', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.array(step, { maxLength: 300 }), (cap, steps) => {
        let now = 0;
        let serial = 0;
        // Each stored outcome is a fresh object, so a reused record showing a stale one is caught.
        const last = new Map<string, { key: string; serial: number }>();
        const pinned = new Map<number, IdempotencyRecord<{ key: string; serial: number }>>();
        const store = new IdempotencyStore({ maxPerTenant: cap, replayWindowMs: 0 }, (response) => {
          const outcome = response as { key: string; serial: number };
          // Handed back only once no lookup can reach it.
          expect(store.lookup(space, outcome.key, 0, now)?.response).not.toBe(outcome);
        });
        const space = store.space('t', 'e');
        for (const s of steps) {
          if (s.op === 'advance') now += s.ms;
          else if (s.op === 'unpin') {
            const record = pinned.get(s.key);
            if (record !== undefined) store.unpin(record, now);
            pinned.delete(s.key);
          } else {
            const key = `k${s.key}`;
            const found = store.lookup<{ key: string; serial: number }>(space, key, 0, now);
            if (found !== undefined) {
              expect(found.key).toBe(key);
              expect(found.response).toBe(last.get(key));
            } else if (s.op === 'store' && !pinned.has(s.key)) {
              const outcome = { key, serial: serial++ };
              last.set(key, outcome);
              const record = store.store(space, key, 0, outcome, now + s.ttl, s.kind, now);
              expect(record.response).toBe(outcome);
              if (s.kind === 'pinned') pinned.set(s.key, record);
            }
          }
          for (const [key, record] of pinned) {
            expect(store.lookup(space, `k${key}`, 0, now)).toBe(record);
            expect(record.response).toBe(last.get(`k${key}`));
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('IdempotencyStore tenants (model check)', () => {
  it("no amount of one tenant's records ever drops another tenant's unexpired record", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.record({ kind: fc.constantFrom('replaceable', 'durable'), advance: fc.nat(5) }), {
          maxLength: 300,
        }),
        (cap, floods) => {
          const store = new IdempotencyStore({ maxPerTenant: cap, replayWindowMs: 10 });
          const quiet = store.space('acme', 'event');
          const noisy = store.space('beta', 'event');
          let now = 0;
          store.store(quiet, 'kept', 1, 'acme', 1_000_000, 'durable', now);
          for (const [index, flood] of floods.entries()) {
            now += flood.advance;
            if (flood.kind === 'durable' && store.roomFor(noisy, now) > 0) continue;
            store.store(noisy, `k${index}`, index, index, now + 50, flood.kind as RecordClass, now);
            expect(store.lookup(quiet, 'kept', 1, now)?.response).toBe('acme');
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
