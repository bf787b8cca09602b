import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CyclesServer, startCyclesServer } from '../src/server.ts';
import { govFetch } from './support/gov-fetch.ts';
import { ADMIN_KEY } from './support/http-ledger.ts';
import { LOOPBACK_WEBHOOKS } from './support/loopback-webhooks.ts';
import { useRedisServer } from './support/redis-server.ts';
import { startWebhookReceiver } from './support/webhook-receiver.ts';

// Random webhook create and update bodies from a hostile tenant: known fields with wrong types, huge
// or negative numbers, unknown fields, nested junk. Every answer is a success or the spec's error
// shape with a 400 naming a field of the body by its wire path, and a refused request changes nothing
// of the tenant's subscriptions.

const KEY = 'alpha-key-bodies-01';
const auth = { key: KEY };
const redis = useRedisServer();

const FIELDS = [
  'name',
  'description',
  'url',
  'event_types',
  'event_categories',
  'scope_filter',
  'thresholds',
  'signing_secret',
  'headers',
  'retry_policy',
  'disable_after_failures',
  'metadata',
  'status',
];

/** A value a hostile client might send for a field: often plausible, often not. */
const value = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(
    'https://hooks.example.com/a',
    `https://hooks.example.com/${'x'.repeat(3000)}`,
    'http://hooks.example.com/',
    'https://[::1]/',
    ['budget.exhausted'],
    ['webhook.created'],
    ['budget'],
    ['api_key'],
    [],
    'ACTIVE',
    'DISABLED',
    'tenant:alpha/*',
    { max_retries: 11 },
    { max_retries: 3, initial_delay_ms: 99 },
    { backoff_multiplier: Number.MAX_VALUE },
    { budget_utilization: [0.5, 0.8] },
    { budget_utilization: [-1] },
    { 'X-Ok': 'v' },
    { 'Content-Type': 'text/plain' },
    { 'bad header': 'v' },
    -1,
    0,
    1e308,
    2 ** 53,
    'a'.repeat(2000),
  ),
);

const body = fc.dictionary(
  fc.oneof(fc.constantFrom(...FIELDS), fc.constantFrom('tenant_id', 'subscription_id', '__proto__x', 'Url')),
  value,
  { maxKeys: 6 },
);

describe.each([
  ['memory', () => ({ type: 'memory' })],
  ['redis', () => ({ type: 'redis', url: redis.server.url, keyPrefix: 'hostile-bodies:' })],
])('random webhook bodies from a tenant (%s ledger)', (_name, ledgerOf) => {
  let server: CyclesServer;
  let existing: string;

  beforeAll(async () => {
    server = await startCyclesServer({
      port: 0,
      adminApiKey: ADMIN_KEY,
      apiKeys: { [KEY]: 'alpha' },
      ledger: ledgerOf() as never,
      logLevel: 'silent',
      webhookResolver: async () => [{ address: '203.0.113.10', family: 4 }],
    });
    const created = await govFetch(server.url, 'POST', '/v1/webhooks', auth, {
      url: 'https://hooks.example.com/existing',
      event_types: ['budget.exhausted'],
    });
    existing = created.body.subscription.subscription_id;
  });
  afterAll(async () => {
    await server.close();
  });

  it('are accepted whole or refused with 400 naming a field they carry, changing nothing', async () => {
    const refusedFields = new Set<string>();
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(fc.boolean(), body, async (update, sent) => {
        const before = (await govFetch(server.url, 'GET', '/v1/webhooks', auth)).body.subscriptions;
        const reply = update
          ? await govFetch(server.url, 'PATCH', `/v1/webhooks/${existing}`, auth, sent)
          : await govFetch(server.url, 'POST', '/v1/webhooks', auth, sent);
        expect(reply.problems).toEqual([]);
        if (reply.status === 200 || reply.status === 201) {
          accepted++;
          if (reply.status === 201) {
            const id = reply.body.subscription.subscription_id;
            expect((await govFetch(server.url, 'DELETE', `/v1/webhooks/${id}`, auth)).status).toBe(204);
          }
          return;
        }
        expect(reply.status).toBe(400);
        expect(reply.body.error).toBe('INVALID_REQUEST');
        const field: string = reply.body.details.field;
        refusedFields.add(field.split('.')[0]!);
        // The field named is one the body carries (or the body itself, or a required one it lacks).
        const top = field.split(/[.[]/)[0]!;
        expect(
          top === 'body' || top in sent || (!update && (top === 'url' || top === 'event_types')),
          `${field} of ${JSON.stringify(sent).slice(0, 300)}`,
        ).toBe(true);
        const after = (await govFetch(server.url, 'GET', '/v1/webhooks', auth)).body.subscriptions;
        expect(after).toEqual(before);
      }),
      { numRuns: 300 },
    );
    // Both answers were met, and refusals named many different fields.
    expect(accepted).toBeGreaterThan(0);
    expect(refusedFields.size).toBeGreaterThan(5);
  }, 120_000);
});

describe('custom headers of a tenant’s subscription', () => {
  it('refuses line breaks, non-ASCII and hop-by-hop headers naming headers; sends the others', async () => {
    const seen: Record<string, unknown>[] = [];
    const receiver = await startWebhookReceiver(({ headers }) => {
      seen.push(headers);
      return 204;
    });
    const server = await startCyclesServer({
      port: 0,
      apiKeys: { [KEY]: 'alpha' },
      logLevel: 'silent',
      webhookSecurity: LOOPBACK_WEBHOOKS,
    });
    try {
      const create = (headers: Record<string, string>) =>
        govFetch(server.url, 'POST', '/v1/webhooks', auth, {
          url: `${receiver.base}/hook`,
          event_types: ['budget.exhausted'],
          headers,
        });
      const refusals: Record<string, string>[] = [
        { 'X-A': 'a\r\nX-Injected: 1' },
        { 'X-A': 'a\nb' },
        { 'X-A': 'é' },
        { 'X-A': '\u2028' },
        { 'X-A': 'x'.repeat(4097) },
        { 'Transfer-Encoding': 'chunked' },
        { Connection: 'upgrade' },
        { Upgrade: 'websocket' },
        { Expect: '100-continue' },
        { 'Keep-Alive': 'timeout=1' },
        { TE: 'trailers' },
        { 'Content-Encoding': 'gzip' },
        { 'Content-Length': '0' },
        { Host: 'metadata.google.internal' },
      ];
      for (const headers of refusals) {
        const refused = await create(headers);
        expect(refused.problems).toEqual([]);
        expect(refused.status, JSON.stringify(headers).slice(0, 60)).toBe(400);
        expect(refused.body.details.field).toBe('headers');
      }
      expect((await govFetch(server.url, 'GET', '/v1/webhooks', auth)).body.subscriptions).toEqual([]);
      const created = await create({ 'X-Tenant-Token': 'tok\tvalue', Authorization: 'Bearer abc' });
      expect(created.status).toBe(201);
      const probe = await govFetch(
        server.url,
        'POST',
        `/v1/webhooks/${created.body.subscription.subscription_id}/test`,
        auth,
        {},
      );
      expect(probe.body.success).toBe(true);
      expect(seen.at(-1)).toMatchObject({ 'x-tenant-token': 'tok\tvalue', authorization: 'Bearer abc' });
    } finally {
      await server.close();
      await receiver.close();
    }
  });
});
