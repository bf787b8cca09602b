import { Agent, request as httpRequest } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { LedgerEventLog } from '@cycles-guard/core/ledger-kit';
import { ManualClock } from '@cycles-guard/core/testing';
import { describe, expect, it } from 'vitest';
import { type CyclesServer, type StartServerOptions, startCyclesServer } from '../src/server.ts';
import { AuthFailures } from '../src/webhooks/auth-failures.ts';
import { govSchemaProblems } from './support/gov-contract.ts';
import { govFetch } from './support/gov-fetch.ts';
import { ADMIN_KEY } from './support/http-ledger.ts';
import { LOOPBACK_WEBHOOKS } from './support/loopback-webhooks.ts';
import { useRedisAndReceiver } from './support/redis-and-receiver.ts';

// `api_key.auth_failed` and `api_key.auth_failure_rate_spike` under a hostile client: 10,000 requests
// with bad keys store 5 auth_failed events (the per-source bound), queue no more deliveries than that
// plus one spike per subscription's pair, and the next window's event carries the count of the rest.
// Sources beyond the bound of tracked ones cost nothing but their count. Admin-only events, checked
// against GOV `Event`, `EventDataApiKey` and `EventDataRateSpike`, on memory and on a real redis-server.

const KEY = 'acme-key-auth-fail-1';
/** Heap a flood may leave behind. */
const HEAP_BOUND = 4e6;
// biome-ignore lint/suspicious/noExplicitAny: parsed JSON bodies, GOV-checked
type Json = any;
/** Path → the events it received. */
const received = new Map<string, Json[]>();
const services = useRedisAndReceiver(received);
let prefixes = 0;

setFlagsFromString('--expose_gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** The heap in use after a full collection. */
function heapUsed(): number {
  collectGarbage();
  collectGarbage();
  return process.memoryUsage().heapUsed;
}

/** One request with a bad key, from `source` (any 127.0.0.0/8 address is this machine). */
function badKey(server: CyclesServer, source = '127.0.0.1', agent?: Agent): Promise<number> {
  const url = new URL('/v1/balances?tenant_id=acme', server.url);
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      url,
      { headers: { 'X-Cycles-API-Key': 'not-a-key' }, localAddress: source, ...(agent ? { agent } : {}) },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode!));
      },
    );
    outgoing.on('error', reject);
    outgoing.end();
  });
}

const ledgers: [string, () => StartServerOptions['ledger']][] = [
  ['memory', () => ({ type: 'memory' })],
  ['redis', () => ({ type: 'redis', url: services.redis.url, keyPrefix: `auth-${++prefixes}:` })],
];

describe.each(ledgers)('auth failures under a flood of bad keys (%s ledger)', (name, ledger) => {
  it('store and deliver a bounded number of events, count the rest, and fire the spike once per pair', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1, 9));
    const server = await startCyclesServer({
      port: 0,
      adminApiKey: ADMIN_KEY,
      apiKeys: { [KEY]: 'acme' },
      clock,
      ledger: ledger(),
      ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS', allocated: 1000 }],
      logLevel: 'silent',
      webhookSecurity: LOOPBACK_WEBHOOKS,
    });
    const problems: string[] = [];
    const admin = async (
      method: string,
      path: string,
      body?: unknown,
    ): Promise<{ status: number; body: Json }> => {
      const reply = await govFetch(server.url, method, path, { admin: true }, body);
      problems.push(...reply.problems);
      return reply;
    };
    const listed = async (type: string) =>
      (await admin('GET', `/v1/admin/events?event_type=${type}&limit=100&sort_dir=asc`)).body.events;
    try {
      const ids: Record<string, string> = {};
      for (const [path, thresholds] of [
        ['/default', undefined],
        ['/half', { auth_failure_rate_threshold: 0.5 }],
      ] as const) {
        const created = await admin('POST', '/v1/admin/webhooks', {
          url: `${services.hookBase}/${name}${path}`,
          event_types: ['api_key.auth_failed', 'api_key.auth_failure_rate_spike'],
          ...(thresholds ? { thresholds } : {}),
        });
        expect(created.status).toBe(201);
        ids[path] = created.body.subscription.subscription_id;
      }
      await server.rates!.flush(); // the subscriptions' pairs count from the next flush on

      // 10,000 bad keys from one source, 50 at a time on kept-alive connections, and 10 good ones.
      for (let i = 0; i < 50; i++) expect(await badKey(server)).toBe(401); // warm up, so the heap is comparable
      await server.rates!.flush();
      const heapBefore = heapUsed();
      const agent = new Agent({ keepAlive: true, maxSockets: 50 });
      let sent = 0;
      await Promise.all(
        Array.from({ length: 50 }, async () => {
          while (sent < 10_000) {
            sent++;
            expect(await badKey(server, '127.0.0.1', agent)).toBe(401);
          }
        }),
      );
      agent.destroy();
      for (let i = 0; i < 10; i++) {
        const good = await govFetch(server.url, 'GET', '/v1/balances?tenant_id=acme', { key: KEY });
        expect(good.status).toBe(200);
      }
      await server.rates!.flush();
      await server.webhooks!.idle();
      // What 10,000 failures leave in the heap: the counters, not the requests (a stored event each would
      // be megabytes).
      const heapGrowth = heapUsed() - heapBefore;
      console.info(`${name}: heap growth after 10,000 bad keys: ${(heapGrowth / 1e6).toFixed(2)} MB`);
      expect(heapGrowth).toBeLessThan(HEAP_BOUND);

      const failed = await listed('api_key.auth_failed');
      expect(failed).toHaveLength(5);
      for (const event of failed) {
        expect(govSchemaProblems('Event', event)).toEqual([]);
        expect(govSchemaProblems('EventDataApiKey', event.data)).toEqual([]);
        expect(event).toMatchObject({ tenant_id: '__system__', category: 'api_key' });
        expect(event.data).toMatchObject({
          failure_reason: 'key_not_found',
          source_ip: '127.0.0.1',
          suppressed_count: 0,
        });
        expect(event.request_id).toEqual(expect.any(String));
        expect(event.trace_id).toMatch(/^[0-9a-f]{32}$/);
      }
      const spikes = await listed('api_key.auth_failure_rate_spike');
      expect(
        spikes.map((spike: { data: { threshold_rate: number } }) => spike.data.threshold_rate).sort(),
      ).toEqual([0.1, 0.5]);
      for (const spike of spikes) {
        expect(govSchemaProblems('EventDataRateSpike', spike.data)).toEqual([]);
        expect(spike).toMatchObject({ tenant_id: '__system__', category: 'api_key' });
        expect(spike.data).toMatchObject({ metric: 'auth_failure_rate', window_seconds: 300 });
        expect(spike.data.sample_count).toBeGreaterThanOrEqual(20);
        expect(spike.data.sample_count).toBeLessThanOrEqual(10_010);
      }
      // Deliveries queued: the 5 events each, and the spike of each one's own pair.
      for (const [path, threshold] of [
        ['/default', 0.1],
        ['/half', 0.5],
      ] as const) {
        const deliveries = (await admin('GET', `/v1/admin/webhooks/${ids[path]}/deliveries?limit=100`)).body
          .deliveries;
        expect(deliveries).toHaveLength(6);
        const got = received.get(`/${name}${path}`) ?? [];
        expect(got.filter((event) => event.event_type === 'api_key.auth_failed')).toHaveLength(5);
        expect(
          got
            .filter((event) => event.event_type.endsWith('_spike'))
            .map((event) => event.data.threshold_rate),
        ).toEqual([threshold]);
      }
      // The event store holds nothing else from the flood.
      const all = (await admin('GET', '/v1/admin/events?limit=100')).body.events;
      expect(all.length).toBeLessThanOrEqual(5 + 2 + 2 + 1); // + webhook.created x2, budget.created
      // A tenant sees none of them.
      const tenant = await govFetch(server.url, 'GET', '/v1/events?category=api_key', { key: KEY });
      expect(tenant.problems).toEqual([]);
      expect((tenant.body as { events: unknown[] }).events).toEqual([]);

      // The next window's first failure reports the 10,045 left out.
      clock.advance(3_600_000);
      expect(await badKey(server)).toBe(401);
      const next = (await listed('api_key.auth_failed')).at(-1);
      expect(next.data.suppressed_count).toBe(10_045); // with the 50 of the warm-up

      // Ten sources of 10 failures: 5 per source, but 20 in all per window.
      clock.advance(3_600_000);
      for (let source = 2; source < 12; source++) {
        for (let i = 0; i < 10; i++) expect(await badKey(server, `127.0.0.${source}`)).toBe(401);
      }
      expect(await listed('api_key.auth_failed')).toHaveLength(5 + 1 + 20);
      expect(problems).toEqual([]);
    } finally {
      await server.close();
    }
  }, 120_000);
});

describe('auth failure bookkeeping', () => {
  it('tracks at most maxSources sources, one sweep per window, and emits at most `total` events', () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1, 9));
    const log = new LedgerEventLog({}, clock);
    const events: string[] = [];
    log.subscribe((event) => {
      events.push(
        `${event.event_type} ${String(event.data?.source_ip)} ${String(event.data?.suppressed_count)}`,
      );
    });
    const failures = new AuthFailures(log, undefined, () => clock.now(), { maxSources: 100, total: 30 });
    const fail = (ip: string) =>
      failures.answered(
        { headers: { 'x-cycles-api-key': 'bad' }, ip, id: 'r', traceId: '0'.repeat(32) },
        401,
      );
    for (let i = 0; i < 5000; i++) fail(`10.0.${i >> 8}.${i & 255}`);
    expect(failures.trackedSources).toBe(100);
    expect(events).toHaveLength(30);
    // The next window: the untouched sources of the last one make room, one sweep.
    clock.advance(3_600_000);
    fail('10.9.9.9');
    expect(failures.trackedSources).toBeLessThanOrEqual(100);
    expect(events.at(-1)).toBe('api_key.auth_failed 10.9.9.9 0');
    // A source with a pending count keeps it into the next window.
    for (let i = 0; i < 10; i++) fail('10.9.9.9');
    clock.advance(3_600_000);
    fail('10.9.9.9');
    expect(events.at(-1)).toBe('api_key.auth_failed 10.9.9.9 6');
  });
});
