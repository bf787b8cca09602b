import { afterEach, describe, expect, it } from 'vitest';
import { type CyclesServer, startCyclesServer } from '../src/server.ts';
import { type GovAuth, govFetch } from './support/gov-fetch.ts';
import { ADMIN_KEY } from './support/http-ledger.ts';
import { useRedisServer } from './support/redis-server.ts';

// observe_mode combined with everything a hostile tenant (and a careless admin) can send: another
// tenant's subject, dry_run, idempotency keys reused across modes and tenants, wire values that are
// not the enum. An observed reserve holds nothing; a refused request changes nothing.

const ALPHA = { key: 'alpha-key-observe-1' };
const BETA = { key: 'beta-key-observe-01' };
const ADMIN: GovAuth = { admin: true };
const redis = useRedisServer();
const started: CyclesServer[] = [];

afterEach(async () => {
  for (const server of started.splice(0)) await server.close();
});

async function start(ledger: object): Promise<CyclesServer> {
  const server = await startCyclesServer({
    port: 0,
    adminApiKey: ADMIN_KEY,
    apiKeys: { [ALPHA.key]: 'alpha', [BETA.key]: 'beta' },
    ledger: ledger as never,
    ledgers: [
      { scope: 'tenant:alpha', unit: 'TOKENS', allocated: 100 },
      { scope: 'tenant:beta', unit: 'TOKENS', allocated: 100 },
    ],
    logLevel: 'silent',
  });
  started.push(server);
  return server;
}

describe.each([
  ['memory', () => ({ type: 'memory' })],
  ['redis', () => ({ type: 'redis', url: redis.server.url, keyPrefix: `observe-${Math.random()}:` })],
])('observe mode under a hostile tenant (%s ledger)', (_name, ledgerOf) => {
  it('holds nothing, reaches no other tenant, and refuses what is not the enum', async () => {
    const server = await start(ledgerOf());
    const reserve = (auth: GovAuth, key: string, extra: object = {}) =>
      govFetch(server.url, 'POST', '/v1/reservations', auth, {
        idempotency_key: key,
        subject: { tenant: auth !== undefined && 'key' in auth && auth.key === BETA.key ? 'beta' : 'alpha' },
        action: { kind: 'llm.completion', name: 'm' },
        estimate: { unit: 'TOKENS', amount: 60 },
        ...extra,
      });
    const held = async (auth: GovAuth, tenant: string) => {
      const listed = await govFetch(server.url, 'GET', `/v1/balances?tenant=${tenant}`, auth);
      return listed.body.balances[0].reserved.amount as number;
    };
    const betaEvents = async () =>
      (await govFetch(server.url, 'GET', '/v1/events?limit=100', BETA)).body.events;

    // The admin's tenant default takes the enum only; a refused PUT leaves alpha enforcing.
    for (const mode of [true, 'observe', 1, '', ['OBSERVE']]) {
      const put = await govFetch(server.url, 'PUT', '/v1/admin/tenants/alpha', ADMIN, { observe_mode: mode });
      expect(put.problems).toEqual([]);
      expect([put.status, put.body?.error, put.body?.details?.field]).toEqual([
        400,
        'INVALID_REQUEST',
        'tenant.observe_mode',
      ]);
      expect(put.body.message).toContain('OBSERVE, ENFORCE, DISABLED');
    }
    expect((await reserve(ALPHA, 'after-refused-put')).body.reservation_id).toBeDefined();
    expect(await held(ALPHA, 'alpha')).toBe(60);

    // Observed, whatever dry_run says: 200, a decision, nothing held, no reservation.
    for (const [key, extra] of [
      ['o1', { observe_mode: 'OBSERVE' }],
      ['o2', { observe_mode: 'OBSERVE', dry_run: false }],
      ['o3', { observe_mode: 'OBSERVE', dry_run: true }],
      ['o4', { observe_mode: 'OBSERVE', estimate: { unit: 'TOKENS', amount: 1_000_000 } }],
    ] as const) {
      const observed = await reserve(ALPHA, key, extra);
      expect(observed.problems).toEqual([]);
      expect(observed.status).toBe(200);
      expect(observed.body).not.toHaveProperty('reservation_id');
      expect(observed.body).not.toHaveProperty('expires_at_ms');
    }
    expect(await held(ALPHA, 'alpha')).toBe(60);

    // Another tenant's subject, observed: 403, and beta sees nothing of it.
    const beforeBeta = await betaEvents();
    const foreign = await govFetch(server.url, 'POST', '/v1/reservations', ALPHA, {
      idempotency_key: 'foreign',
      subject: { tenant: 'beta' },
      action: { kind: 'llm.completion', name: 'm' },
      estimate: { unit: 'TOKENS', amount: 60 },
      observe_mode: 'OBSERVE',
    });
    expect([foreign.status, foreign.body.error]).toEqual([403, 'FORBIDDEN']);
    expect(await betaEvents()).toEqual(beforeBeta);
    expect(await held(BETA, 'beta')).toBe(0);

    // One key, two modes: the second is a mismatch and holds nothing.
    const mismatch = await reserve(ALPHA, 'o1', { observe_mode: 'ENFORCE' });
    expect([mismatch.status, mismatch.body.error]).toEqual([409, 'IDEMPOTENCY_MISMATCH']);
    const replayed = await reserve(ALPHA, 'o1', { observe_mode: 'OBSERVE' });
    expect([replayed.status, replayed.body.reservation_id]).toEqual([200, undefined]);
    expect(await held(ALPHA, 'alpha')).toBe(60);

    // The same key in another tenant is that tenant's own: beta's live reserve holds in beta only.
    const betaLive = await reserve(BETA, 'o1');
    expect(betaLive.body.reservation_id).toBeDefined();
    expect([await held(ALPHA, 'alpha'), await held(BETA, 'beta')]).toEqual([60, 60]);

    // The tenant default observes; a request's ENFORCE or DISABLED still holds.
    const put = await govFetch(server.url, 'PUT', '/v1/admin/tenants/alpha', ADMIN, {
      observe_mode: 'OBSERVE',
    });
    expect(put.status).toBe(204);
    expect((await reserve(ALPHA, 'default-observed')).body.reservation_id).toBeUndefined();
    expect(
      (
        await reserve(ALPHA, 'enforced', {
          estimate: { unit: 'TOKENS', amount: 10 },
          observe_mode: 'ENFORCE',
        })
      ).body.reservation_id,
    ).toBeDefined();
    expect(
      (
        await reserve(ALPHA, 'disabled', {
          estimate: { unit: 'TOKENS', amount: 10 },
          observe_mode: 'DISABLED',
        })
      ).body.reservation_id,
    ).toBeDefined();
    expect(await held(ALPHA, 'alpha')).toBe(80);
  });
});
