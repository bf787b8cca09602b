import { CyclesError } from '@cycles-guard/core';
import { describeLedgerConformance } from '@cycles-guard/core/testing';
import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisLedger } from '../src/index.ts';
import { GLOBAL_TAG, tenantTag } from '../src/keys.ts';
import { type RedisClusterHandle, startRedisCluster } from '../src/testing/index.ts';

// The memory ledger's conformance suite, unchanged, on a real Redis Cluster (3 masters + 3 replicas on
// loopback): each test gets a fresh key prefix, and its tenants' tags spread over the three masters
// (the template bounds across tenants included: the census under the global tag counts them).

let cluster: RedisClusterHandle;
let ledgers = 0;

beforeAll(async () => {
  cluster = await startRedisCluster();
}, 60_000);

afterAll(async () => {
  await cluster?.remove();
});

describeLedgerConformance('redis cluster', {
  createLedger: (clock) => {
    ledgers += 1;
    return createRedisLedger({
      cluster: cluster.nodes,
      keyPrefix: `conformance:${ledgers}:`,
      clock,
      sweepIntervalMs: 0,
    });
  },
  expiresLazily: true,
});

function fresh(extra: Parameters<typeof createRedisLedger>[0] = {}) {
  ledgers += 1;
  return createRedisLedger({
    cluster: cluster.nodes,
    keyPrefix: `layout:${ledgers}:`,
    sweepIntervalMs: 0,
    ...extra,
  });
}

async function keysOf(client: Cluster, prefix: string): Promise<string[]> {
  const perMaster = await Promise.all(client.nodes('master').map((node) => node.keys(`${prefix}*`)));
  return perMaster.flat().sort();
}

const request = (tenant: string | undefined, key: string) => ({
  idempotencyKey: key,
  subject: tenant === undefined ? { app: 'chat' } : { tenant, app: 'chat' },
  action: { kind: 'llm.completion', name: 'm' },
  estimate: { unit: 'TOKENS' as const, amount: 10 },
});

describe('redis cluster: key layout and routing', () => {
  it("every key of a tenant's hierarchy carries its tag; templates and the tag registry the global one", async () => {
    const ledger = fresh();
    const prefix = `layout:${ledgers}:`;
    await ledger.addTemplate({ pattern: 'tenant:*/app:*', unit: 'TOKENS', allocated: 1000 });
    await ledger.createLedger({ scope: 'tenant:acme', unit: 'TOKENS', allocated: 1000 });
    await ledger.setTenant('acme', { defaultReservationTtlMs: 60_000 });
    const reserved = await ledger.reserve(request('acme', 'r1'));
    await ledger.commit(reserved.reservationId!, {
      idempotencyKey: 'c1',
      actual: { unit: 'TOKENS', amount: 7 },
    });
    const tag = tenantTag('acme');
    expect(reserved.reservationId).toMatch(new RegExp(`^rsv_${tag}\\.`));
    const keys = await keysOf(ledger.client as Cluster, prefix);
    const tenantKeys = keys.filter((key) => key.startsWith(`${prefix}{${tag}}`));
    const globalKeys = keys.filter((key) => key.startsWith(`${prefix}{${GLOBAL_TAG}}`));
    expect(tenantKeys.length + globalKeys.length).toBe(keys.length);
    expect(globalKeys).toEqual([
      `${prefix}{_}census`,
      `${prefix}{_}census:p:1`,
      `${prefix}{_}tags`,
      `${prefix}{_}templates`,
    ]);
    for (const name of [
      'l:tenant:acme|TOKENS',
      'l:tenant:acme/app:chat|TOKENS',
      'tenant:acme',
      'templates',
    ]) {
      expect(tenantKeys).toContain(`${prefix}{${tag}}${name}`);
    }
    expect(await ledger.getLedger('tenant:acme/app:chat', 'TOKENS')).toMatchObject({ spent: 7, reserved: 0 });
    await ledger.close();
  });

  it('a template added by one instance binds the tags another instance already uses, at once', async () => {
    const first = fresh();
    const prefix = `layout:${ledgers}:`;
    const second = createRedisLedger({ cluster: cluster.nodes, keyPrefix: prefix, sweepIntervalMs: 0 });
    await first.createLedger({ scope: 'tenant:acme', unit: 'TOKENS', allocated: 1000 });
    await first.reserve(request('acme', 's1'));
    // While both instances reserve on acme's tag, the other instance adds templates.
    const racing = Array.from({ length: 20 }, (_, i) =>
      first.reserve({ ...request('acme', `s-race-${i}`), subject: { tenant: 'acme' } }),
    );
    await second.addTemplate({ pattern: 'tenant:*/app:*', unit: 'TOKENS', allocated: 25 });
    await Promise.all(racing);
    const held = await first.reserve({ ...request('acme', 's2'), estimate: { unit: 'TOKENS', amount: 20 } });
    expect(held.decision).toBe('ALLOW');
    expect(await first.getLedger('tenant:acme/app:chat', 'TOKENS')).toMatchObject({
      allocated: 25,
      reserved: 20,
    });
    await expect(
      first.reserve({ ...request('acme', 's3'), estimate: { unit: 'TOKENS', amount: 10 } }),
    ).rejects.toMatchObject({ code: 'BUDGET_EXCEEDED' });
    await Promise.all([first.close(), second.close()]);
  });

  it('tenants spread over every master', async () => {
    const masters = new Set<string>();
    for (let i = 0; i < 30; i++) masters.add(await cluster.masterOf(`x:{${tenantTag(`tenant-${i}`)}}seq`));
    expect(masters.size).toBe(3);
  });

  it('a caller tenant with a subject naming none gets a typed error, and nothing is held', async () => {
    const ledger = fresh();
    await ledger.createLedger({ scope: 'app:chat', unit: 'TOKENS', allocated: 100 });
    const refused = await ledger
      .reserve(request(undefined, 'r2'), { tenant: 'acme' })
      .catch((error) => error);
    expect(CyclesError.isInstance(refused)).toBe(true);
    expect(refused).toMatchObject({ code: 'INVALID_REQUEST', details: { field: 'subject.tenant' } });
    expect(refused.message).toContain('fix: set subject.tenant');
    // Without a caller tenant, scopes without a tenant work under the global tag.
    await ledger.reserve(request(undefined, 'r3'));
    expect(await ledger.getLedger('app:chat', 'TOKENS')).toMatchObject({ reserved: 10 });
    await ledger.close();
  });

  it('a key prefix with a hash tag of its own is refused, naming the option', () => {
    expect(() => fresh({ keyPrefix: 'cycles:{x}:' })).toThrowError(/keyPrefix/);
  });

  it('bounds across tenants hold over the whole cluster: tenants on different masters share them', async () => {
    const ledger = fresh({ maxTemplateLedgers: 2 });
    const prefix = `layout:${ledgers}:`;
    const tenants: string[] = [];
    const masters = new Set<string>();
    for (let i = 0; tenants.length < 3; i++) {
      const master = await cluster.masterOf(`${prefix}{${tenantTag(`m${i}`)}}seq`);
      if (!masters.has(master)) {
        masters.add(master);
        tenants.push(`m${i}`);
      }
    }
    await ledger.addTemplate({ pattern: 'tenant:*', unit: 'TOKENS', allocated: 100 });
    await ledger.reserve(request(tenants[0], 'b1'));
    await ledger.reserve(request(tenants[1], 'b2'));
    await expect(ledger.reserve(request(tenants[2], 'b3'))).rejects.toMatchObject({
      code: 'INVALID_REQUEST',
      details: { bound: 'maxTemplateLedgers', limit: 2 },
    });
    expect(await ledger.getLedger(`tenant:${tenants[2]}`, 'TOKENS')).toBeUndefined();
    // Removing one (it holds nothing once released) frees its place at once.
    const held = await ledger.listReservations({ tenant: tenants[0] });
    await ledger.release(held.reservations[0]!.reservationId, { idempotencyKey: 'b1-release' });
    await ledger.removeLedger(`tenant:${tenants[0]}`, 'TOKENS');
    await ledger.reserve(request(tenants[2], 'b4'));
    expect((await ledger.templateLedgerCounts()).total).toBe(2);
    await ledger.close();
  });

  it('reloads the function library on every master after a flush, and runs EVALSHA scripts', async () => {
    const ledger = fresh();
    await ledger.createLedger({ scope: 'tenant:acme', unit: 'TOKENS', allocated: 1000 });
    const masters = (ledger.client as Cluster).nodes('master');
    await Promise.all(masters.map((node) => node.call('FUNCTION', 'FLUSH')));
    await ledger.reserve(request('acme', 'f1'));
    const libraries = await Promise.all(masters.map((node) => node.call('FUNCTION', 'LIST')));
    for (const list of libraries) expect((list as unknown[]).length).toBeGreaterThan(0);
    const evalLedger = fresh({ scriptMode: 'eval' });
    await Promise.all(masters.map((node) => node.call('SCRIPT', 'FLUSH')));
    await evalLedger.createLedger({ scope: 'tenant:beta', unit: 'TOKENS', allocated: 50 });
    await evalLedger.reserve(request('beta', 'e1'));
    expect(await evalLedger.getLedger('tenant:beta', 'TOKENS')).toMatchObject({ reserved: 10 });
    await Promise.all([ledger.close(), evalLedger.close()]);
  });
});

describe('redis cluster: waitForReplicas', () => {
  it('confirms a write once a replica holds it, and fails closed when too few can', async () => {
    const confirmed = fresh({ waitForReplicas: 1 });
    await confirmed.createLedger({ scope: 'tenant:acme', unit: 'TOKENS', allocated: 100 });
    await confirmed.reserve(request('acme', 'w1'));
    // Each master has one replica: two can never acknowledge. The write happened on the master; the
    // caller is told the outcome is unconfirmed (a retry with the same key replays it).
    const unconfirmed = fresh({
      waitForReplicas: 2,
      keyPrefix: `layout:${ledgers}:`,
      operationTimeoutMs: 300,
    });
    const error = await unconfirmed.reserve(request('acme', 'w2')).catch((caught) => caught);
    expect(error).toMatchObject({ code: 'AUTHORITY_UNAVAILABLE' });
    expect(error.message).toContain('acknowledged by 1 of 2 replicas');
    // The retry with the same key through a ledger whose writes can be confirmed holds it once.
    await confirmed.reserve(request('acme', 'w2'));
    await confirmed.reserve(request('acme', 'w2'));
    expect(await confirmed.getLedger('tenant:acme', 'TOKENS')).toMatchObject({ reserved: 20 });
    expect(() => fresh({ waitForReplicas: -1 })).toThrowError(/waitForReplicas/);
    await Promise.all([confirmed.close(), unconfirmed.close()]);
  });
});
