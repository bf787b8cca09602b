import { createMemoryLedger, type Ledger } from '@cycles-guard/core';
import { createRedisLedger, type RedisLedger } from '@cycles-guard/redis';
import { type RedisServer, startRedisServer } from '@cycles-guard/redis/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CyclesServer, startCyclesServer } from '../src/server.ts';
import { RedisWebhookStore } from '../src/webhooks/redis-webhook-store.ts';
import { undoRefusedUpdate } from '../src/webhooks/refused-update.ts';
import type { SubscriptionRecord } from '../src/webhooks/subscription.ts';
import { MemoryWebhookStore, type WebhookStore } from '../src/webhooks/webhook-store.ts';
import { ADMIN_KEY } from './support/http-ledger.ts';
import { LOOPBACK_WEBHOOKS } from './support/loopback-webhooks.ts';
import { raceCall } from './support/race-servers.ts';

// The undo of a subscription update refused after its write (its tenant closed meanwhile) against writes
// made between that write and the undo: update A's re-check of the tenant is held while B (another
// server on Redis, another request on the memory ledger) renames, pauses, resumes or deletes the
// subscription, all answered, and then the tenant closes. A is refused (409 TENANT_CLOSED) and B's last
// answered write stands, DISABLED by the close: an undo that writes A's starting record over whatever is
// stored loses B's rename and brings B's delete back.

type Step = 'rename' | 'pause' | 'resume' | 'delete';

const steps = fc
  .array(fc.constantFrom<Step>('rename', 'pause', 'resume', 'delete'), { minLength: 1, maxLength: 5 })
  .filter((list) => list.includes('rename') || list.includes('delete'));

/**
 * A ledger whose next tenant read while `when()` holds waits until released: the window between an
 * update's write and its re-check of the tenant.
 */
function holdingLedger(inner: Ledger) {
  let hold: { when: () => Promise<boolean>; entered: () => void; released: Promise<void> } | undefined;
  const ledger: Ledger = Object.create(inner, {
    getTenant: {
      value: async (tenant: string) => {
        const current = hold;
        if (current !== undefined && (await current.when()) && hold === current) {
          hold = undefined;
          current.entered();
          await current.released;
        }
        return inner.getTenant!(tenant);
      },
    },
  });
  const holdNextRead = (when: () => Promise<boolean>) => {
    let entered = () => {};
    let release = () => {};
    const reached = new Promise<void>((resolve) => {
      entered = resolve;
    });
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    hold = { when, entered, released };
    return { reached, release };
  };
  return { ledger, holdNextRead };
}

/** The receivers' host name, resolved to this machine. */
async function loopbackResolver() {
  return [{ address: '127.0.0.1', family: 4 }];
}

/** One of B's writes, with the admin key: a rename, a pause, a resume or a delete. */
async function writeThrough(server: CyclesServer, id: string, step: Step, index: number) {
  if (step !== 'delete') {
    const body =
      step === 'rename' ? { name: `b${index}` } : { status: step === 'pause' ? 'PAUSED' : 'ACTIVE' };
    return raceCall(server, 'PATCH', `/v1/admin/webhooks/${id}`, body);
  }
  const response = await fetch(`${server.url}/v1/admin/webhooks/${id}`, {
    method: 'DELETE',
    headers: { 'X-Admin-API-Key': ADMIN_KEY },
  });
  return { status: response.status, body: {} };
}

let redis: RedisServer;
const opened: Array<{ close(): Promise<void> }> = [];
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  for (const closable of opened.reverse()) await closable.close();
  await redis?.remove();
});

describe.each(['memory', 'redis'] as const)('a refused update undone on the %s ledger', (kind) => {
  const servers: CyclesServer[] = [];
  let hold: ReturnType<typeof holdingLedger>['holdNextRead'];
  let redisLedger: RedisLedger | undefined;
  beforeAll(async () => {
    const common = {
      port: 0,
      adminApiKey: ADMIN_KEY,
      logLevel: 'silent' as const,
      webhookSecurity: LOOPBACK_WEBHOOKS,
      webhookResolver: loopbackResolver,
    };
    const store = { type: 'redis' as const, url: redis.url, keyPrefix: 'whundo:' };
    if (kind === 'redis') {
      redisLedger = createRedisLedger({ url: redis.url, keyPrefix: 'whundo:', events: {} });
      opened.push(redisLedger);
    }
    const inner = redisLedger ?? createMemoryLedger({ events: {} });
    const holding = holdingLedger(inner);
    hold = holding.holdNextRead;
    servers.push(
      await startCyclesServer({
        ...common,
        ledgerInstance: holding.ledger,
        ...(kind === 'redis' ? { ledger: store } : {}),
      }),
    );
    if (kind === 'redis') servers.push(await startCyclesServer({ ...common, ledger: store }));
  });
  afterAll(async () => {
    for (const server of servers) await server.close();
  });

  let tenants = 0;
  it("keeps every write answered before the undo: B's rename, B's delete", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('pause', 'rename'), steps, async (aKind, bSteps) => {
        const tenant = `whundo${kind}${++tenants}`;
        const [a, b] = [servers[0]!, servers.at(-1)!];
        expect((await raceCall(a, 'PUT', `/v1/admin/tenants/${tenant}`, {})).status).toBe(204);
        const created = await raceCall(a, 'POST', `/v1/admin/webhooks?tenant_id=${tenant}`, {
          url: `http://hooks.test:9/${tenant}`,
          event_types: ['budget.exhausted'],
          name: 'original',
        });
        expect(created.status).toBe(201);
        const id: string = created.body.subscription.subscription_id;
        while (b.webhooks!.get(id) === undefined) await new Promise((resolve) => setTimeout(resolve, 20));
        const stored = () => a.webhooks!.store.subscription(id);

        // A's write is told by its description; its re-check waits once it is stored.
        const held = hold(async () => (await stored())?.description === 'a-write');
        const aBody =
          aKind === 'pause'
            ? { status: 'PAUSED', description: 'a-write' }
            : { name: 'a', description: 'a-write' };
        const aAnswer = raceCall(a, 'PATCH', `/v1/admin/webhooks/${id}`, aBody);
        let last: { status: number; body: Record<string, unknown> } | undefined = created;
        try {
          await held.reached;
          for (const [index, step] of bSteps.entries()) {
            const answer = await writeThrough(b, id, step, index);
            if (last === undefined) expect(answer.status).toBe(404);
            else {
              expect(answer.status).toBe(step === 'delete' ? 204 : 200);
              last = step === 'delete' ? undefined : answer;
            }
          }
          const closed = await raceCall(a, 'PUT', `/v1/admin/tenants/${tenant}`, { status: 'CLOSED' });
          expect(closed.status).toBe(204);
        } finally {
          held.release();
        }

        const refused = await aAnswer;
        expect([refused.status, refused.body.error]).toEqual([409, 'TENANT_CLOSED']);
        const after = await stored();
        if (last === undefined) expect(after).toBeUndefined();
        else {
          const answered = (last.body.subscription ?? last.body) as SubscriptionRecord;
          expect(after?.status).toBe('DISABLED');
          expect([after?.name, after?.description]).toEqual([answered.name, answered.description]);
        }
      }),
      { numRuns: 8 },
    );
  }, 120_000);
});

// The undo finds its own write with a dispatcher's delivery counts on it (an attempt at the closing
// tenant failed meanwhile): it still undoes it, keeping the counts. A compare-and-set on the record
// exactly as written would lose to the counts' write and leave the subscription ACTIVE on a closed tenant.
let countsLedger: RedisLedger | undefined;
function countsClient(): RedisLedger['client'] {
  if (countsLedger === undefined) {
    countsLedger = createRedisLedger({ url: redis.url, keyPrefix: 'whundo-counts:' });
    opened.push(countsLedger);
  }
  return countsLedger.client;
}

const stores: Array<[string, () => WebhookStore]> = [
  ['memory', () => new MemoryWebhookStore()],
  ['redis', () => new RedisWebhookStore(countsClient(), 'whundo-counts:')],
];

describe.each(stores)('the undo of a refused update on the %s store', (name, open) => {
  it('undoes its write that a failed delivery counted on since', async () => {
    const store = open();
    const previous: SubscriptionRecord = {
      subscription_id: `whsub_counts_${name}`,
      tenant_id: 'acme',
      url: 'https://hooks.example/h',
      event_types: ['budget.exhausted'],
      name: 'before',
      signing_secret: 'a-signing-secret-of-16',
      status: 'PAUSED',
      retry_policy: { max_retries: 3, initial_delay_ms: 100, backoff_multiplier: 2, max_delay_ms: 1000 },
      disable_after_failures: 10,
      consecutive_failures: 0,
      created_at: '2026-01-01T00:00:00.000Z',
    };
    const written: SubscriptionRecord = { ...previous, name: 'after', status: 'ACTIVE' };
    await store.saveSubscription(structuredClone(written));
    const counted = (await store.subscription(written.subscription_id))!;
    const failed = { ...counted, consecutive_failures: 2, last_failure_at: '2026-01-02T00:00:00.000Z' };
    expect(await store.replaceSubscription(counted, failed)).toBe(true);

    const writes = {
      store,
      replace: (expected: SubscriptionRecord, next: SubscriptionRecord) =>
        store.replaceSubscription(expected, next),
    };
    await undoRefusedUpdate(writes, written, previous, '2026-01-03T00:00:00.000Z');
    expect(await store.subscription(written.subscription_id)).toEqual({
      ...previous,
      status: 'DISABLED',
      updated_at: '2026-01-03T00:00:00.000Z',
      consecutive_failures: 2,
      last_failure_at: '2026-01-02T00:00:00.000Z',
    });
  });
});
