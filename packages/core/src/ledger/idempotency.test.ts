import { describe, expect, it } from 'vitest';
import { IdempotencyStore } from './idempotency.ts';

describe('IdempotencyStore', () => {
  it('replays the same fingerprint and refuses a different one with IDEMPOTENCY_MISMATCH', () => {
    const store = new IdempotencyStore(10);
    const space = store.space('acme', 'decide');
    store.store(space, 'k', 42, { decision: 'ALLOW' }, 1000, 'replaceable', 0);
    expect(store.lookup(space, 'k', 42, 999)?.response).toEqual({ decision: 'ALLOW' });
    expect(() => store.lookup(space, 'k', 43, 999)).toThrow(/different payload/);
    expect(store.lookup(space, 'k', 42, 1000)).toBeUndefined();
    expect(store.size).toBe(0);
  });

  it('keeps tenants and endpoints apart', () => {
    const store = new IdempotencyStore(10);
    store.store(store.space('acme', 'event'), 'k', 1, 'acme', 1000, 'durable', 0);
    expect(store.lookup(store.space('globex', 'event'), 'k', 2, 0)).toBeUndefined();
    expect(store.lookup(store.space('acme', 'decide'), 'k', 2, 0)).toBeUndefined();
    expect(store.lookup(store.space('acme', 'event'), 'k', 1, 0)?.response).toBe('acme');
  });

  it('evicts replaceable records first, durable ones next, pinned ones never', () => {
    const store = new IdempotencyStore(2);
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
    const store = new IdempotencyStore(1000);
    const space = store.space('acme', 'decide');
    for (let i = 0; i < 100; i++) store.store(space, `k${i}`, i, i, 100 + i, 'replaceable', i);
    expect(store.size).toBe(100);
    store.prune(150);
    expect(store.size).toBe(49);
    store.prune(10_000);
    expect(store.size).toBe(0);
  });
});
