import { afterEach, describe, expect, it } from 'vitest';
import { type CyclesServer, startCyclesServer } from '../src/server.ts';
import { type GovReply, govFetch } from './support/gov-fetch.ts';
import { ADMIN_KEY } from './support/http-ledger.ts';
import { useRedisServer } from './support/redis-server.ts';

// A tenant may own at most 50 subscriptions. A hostile tenant sends its creates all at once, through
// one server or several on one Redis: the bound must hold anyway, every refusal the spec's error
// naming the field, and nothing of a refused create left stored.

const ALPHA = 'alpha-key-bound-01';
const BETA = 'beta-key-bound-001';
const BOUND = 50;
const redis = useRedisServer();
const started: CyclesServer[] = [];

afterEach(async () => {
  for (const server of started.splice(0)) await server.close();
});

async function start(ledger: object): Promise<CyclesServer> {
  const server = await startCyclesServer({
    port: 0,
    adminApiKey: ADMIN_KEY,
    apiKeys: { [ALPHA]: 'alpha', [BETA]: 'beta' },
    ledger: ledger as never,
    logLevel: 'silent',
    // Real DNS answers on a later turn of the event loop, as this does: creates interleave there.
    webhookResolver: async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      return [{ address: '203.0.113.10', family: 4 }];
    },
  });
  started.push(server);
  return server;
}

const create = (server: CyclesServer, key: string, n: number) =>
  govFetch(
    server.url,
    'POST',
    '/v1/webhooks',
    { key },
    {
      url: `https://hooks.example.com/hook/${n}`,
      event_types: ['budget.exhausted'],
    },
  );

/** The tenant's subscriptions as the store holds them (through the admin list of a fresh server). */
async function stored(ledger: object, tenant: string): Promise<number> {
  const reader = await start(ledger);
  const list = await govFetch(reader.url, 'GET', `/v1/admin/webhooks?tenant_id=${tenant}`, { admin: true });
  return list.body.subscriptions.length;
}

function checkRefusals(replies: GovReply[]): void {
  for (const reply of replies) {
    expect(reply.problems).toEqual([]);
    if (reply.status === 201) continue;
    expect(reply.status).toBe(400);
    expect(reply.body.error).toBe('INVALID_REQUEST');
    expect(reply.body.details.field).toBe('tenant_id');
  }
}

describe.each([
  ['memory', () => ({ type: 'memory' })],
  ['redis', () => ({ type: 'redis', url: redis.server.url, keyPrefix: `bound-${Math.random()}:` })],
])('the bound of subscriptions per tenant (%s ledger)', (name, ledgerOf) => {
  it('holds against concurrent creates through one server', async () => {
    const ledger = ledgerOf();
    const server = await start(ledger);
    const replies = await Promise.all(Array.from({ length: 120 }, (_, n) => create(server, ALPHA, n)));
    checkRefusals(replies);
    const accepted = replies.filter((reply) => reply.status === 201).length;
    expect(accepted).toBe(BOUND);
    const mine = await govFetch(server.url, 'GET', '/v1/webhooks', { key: ALPHA });
    expect(mine.body.subscriptions).toHaveLength(BOUND);
    if (name === 'redis') expect(await stored(ledger, 'alpha')).toBe(BOUND);
    // Another tenant is not affected by alpha's flood.
    expect((await create(server, BETA, 0)).status).toBe(201);
    // A refused create announced nothing.
    let announced: GovReply | undefined;
    for (let waited = 0; waited < 5000; waited += 50) {
      announced = await govFetch(server.url, 'GET', '/v1/admin/events?event_type=webhook.created&limit=100', {
        admin: true,
      });
      if (announced.body.events.length >= BOUND + 1) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(announced!.body.events).toHaveLength(BOUND + 1);
  });

  if (name === 'redis') {
    it('holds against concurrent creates through two servers on one Redis', async () => {
      const ledger = ledgerOf();
      const [one, two] = [await start(ledger), await start(ledger)];
      const replies = await Promise.all(
        Array.from({ length: 120 }, (_, n) => create(n % 2 === 0 ? one : two, ALPHA, n)),
      );
      checkRefusals(replies);
      const accepted = replies.filter((reply) => reply.status === 201).length;
      expect(accepted).toBeLessThanOrEqual(BOUND);
      expect(await stored(ledger, 'alpha')).toBe(accepted);
      // Racing creates may all be refused, never all accepted: one at a time, they fill it to the bound.
      let more = 0;
      for (let n = 0; n <= BOUND; n++) {
        const reply = await create(n % 2 === 0 ? one : two, ALPHA, 1000 + n);
        checkRefusals([reply]);
        if (reply.status !== 201) break;
        more++;
      }
      expect(accepted + more).toBe(BOUND);
      expect(await stored(ledger, 'alpha')).toBe(BOUND);
    });
  }
});
