import { ManualClock } from '@cycles-guard/core/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CyclesServer, type StartServerOptions, startCyclesServer } from '../src/server.ts';
import { govSchemaProblems } from './support/gov-contract.ts';
import { ADMIN_KEY } from './support/http-ledger.ts';
import { LOOPBACK_WEBHOOKS } from './support/loopback-webhooks.ts';
import { useRedisAndReceiver } from './support/redis-and-receiver.ts';
import { settleRates } from './support/settle-rates.ts';
import { tenantSender } from './support/tenant-sender.ts';

// The rate fields of GOV `WebhookThresholdConfig` per subscription: each subscription receives the
// denial-rate spike of its own (`denial_rate_threshold`, `rate_window_seconds`) pair, an omitted field
// taking the server's configured value (10 % over 300 s), once per window, when the tenant's denied
// share of at least 20 reserves reaches it. Against a model, on both ledgers; and on Redis the rate is
// the total of every server's reserves, not each server's own.

const KEY = 'acme-key-rates-0001';
/** Path → the spikes it received. */
const received = new Map<string, { event_type: string; data: Record<string, number> }[]>();
const services = useRedisAndReceiver(received);
const violations: string[] = [];
const send = tenantSender(KEY, violations);
let prefixes = 0;
/** Runs of every test (receiver paths stay apart). */
let runs = 0;

let keys = 0;
/** One reserve: `deny` asks more than the budget holds (409, a `reservation.denied`). */
async function reserve(server: CyclesServer, deny: boolean): Promise<void> {
  const answer = await send(server, 'POST', '/v1/reservations', {
    idempotency_key: `rate-${++keys}`,
    subject: { tenant: 'acme' },
    action: { kind: 'llm.completion', name: 'm' },
    estimate: { unit: 'TOKENS', amount: deny ? 1e9 : 1 },
  });
  expect(answer.status).toBe(deny ? 409 : 200);
}

function config(ledger: StartServerOptions['ledger'], clock: ManualClock): StartServerOptions {
  return {
    port: 0,
    apiKeys: { [KEY]: 'acme' },
    adminApiKey: ADMIN_KEY,
    clock,
    ledger,
    ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS', allocated: 1e6 }],
    logLevel: 'silent',
    webhookSecurity: LOOPBACK_WEBHOOKS,
  };
}

/** Subscriptions by path: their rate fields (none: the server's 10 % over 300 s). */
const SUBSCRIPTIONS: Record<string, { denial_rate_threshold?: number; rate_window_seconds?: number }> = {
  '/default': {},
  '/low': { denial_rate_threshold: 0.05 },
  '/high': { denial_rate_threshold: 0.3 },
  '/minute': { denial_rate_threshold: 0.2, rate_window_seconds: 60 },
  '/minute-default': { rate_window_seconds: 60 },
};

async function subscribe(server: CyclesServer, run: string): Promise<void> {
  for (const [path, thresholds] of Object.entries(SUBSCRIPTIONS)) {
    const created = await send(server, 'POST', '/v1/webhooks', {
      url: `${services.hookBase}/${run}${path}`,
      event_types: ['reservation.denial_rate_spike'],
      thresholds,
    });
    expect(created.status).toBe(201);
  }
}

const ledgers: [string, () => StartServerOptions['ledger']][] = [
  ['memory', () => ({ type: 'memory' })],
  ['redis', () => ({ type: 'redis', url: services.redis.url, keyPrefix: `rates-${++prefixes}:` })],
];

describe.each(ledgers)('per-subscription rate thresholds (%s ledger)', (_name, ledger) => {
  it('send each subscription the spike of its own pair, once per window, as a model says', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const server = await startCyclesServer(config(ledger(), clock));
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 20, max: 30 }),
          fc.integer({ min: 0, max: 14 }),
          async (allowed, denied) => {
            // A fresh day: fresh windows, fresh subscriptions.
            clock.advance(86_400_000);
            const run = `r${++runs}`;
            await subscribe(server, run);
            await server.rates!.flush(); // a new pair counts from the next flush on (within 250 ms)
            for (let i = 0; i < allowed; i++) await reserve(server, false);
            // Denials last: the rate only rises, so each pair fires iff the final rate reaches it.
            for (let i = 0; i < denied; i++) await reserve(server, true);
            await settleRates([server]);
            const rate = denied / (allowed + denied);
            for (const [path, own] of Object.entries(SUBSCRIPTIONS)) {
              const threshold = own.denial_rate_threshold ?? 0.1;
              const spikes = received.get(`/${run}${path}`) ?? [];
              expect(spikes, `${path} at ${denied}/${allowed + denied}`).toHaveLength(
                denied > 0 && rate >= threshold ? 1 : 0,
              );
              for (const spike of spikes) {
                expect(govSchemaProblems('EventDataRateSpike', spike.data)).toEqual([]);
                expect(spike.data).toMatchObject({
                  metric: 'denial_rate',
                  threshold_rate: threshold,
                  window_seconds: own.rate_window_seconds ?? 300,
                });
                // Judged at the denial that crossed it, or (on Redis, a round trip later) a little after.
                const first = Array.from({ length: denied }, (_, k) => k + 1).find(
                  (k) => k / (allowed + k) >= threshold,
                )!;
                expect(spike.data.sample_count).toBeGreaterThanOrEqual(allowed + first);
                expect(spike.data.sample_count).toBeLessThanOrEqual(allowed + denied);
              }
            }
          },
        ),
        { numRuns: 8 },
      );
      expect(violations.splice(0)).toEqual([]);
    } finally {
      await server.close();
    }
  });
});

describe.each(ledgers)('rate options from the server config (%s ledger)', (_name, ledger) => {
  it('set the spikes a subscription without its own fields receives, and the defaults of one with', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const server = await startCyclesServer({
      ...config(ledger(), clock),
      events: { denialRate: { threshold: 0.5, minSamples: 4, windowMs: 60_000 } },
    });
    try {
      const run = `r${++runs}`;
      for (const [path, thresholds] of [
        ['/config', {}],
        ['/quarter', { denial_rate_threshold: 0.25 }],
      ] as const) {
        const created = await send(server, 'POST', '/v1/webhooks', {
          url: `${services.hookBase}/${run}${path}`,
          event_types: ['reservation.denial_rate_spike'],
          thresholds,
        });
        expect(created.status).toBe(201);
      }
      await server.rates!.flush();
      for (const deny of [false, false, false, true]) await reserve(server, deny); // 1 of 4: 25 %
      await settleRates([server]);
      expect(received.get(`/${run}/config`)).toBeUndefined();
      expect(received.get(`/${run}/quarter`)?.map((spike) => spike.data)).toEqual([
        expect.objectContaining({ threshold_rate: 0.25, window_seconds: 60, sample_count: 4 }),
      ]);
      await reserve(server, true);
      await reserve(server, true); // 3 of 6: 50 %
      await settleRates([server]);
      expect(received.get(`/${run}/config`)?.map((spike) => spike.data)).toEqual([
        expect.objectContaining({ threshold_rate: 0.5, window_seconds: 60, sample_count: 6 }),
      ]);
      expect(received.get(`/${run}/quarter`)).toHaveLength(1);
      expect(violations.splice(0)).toEqual([]);
    } finally {
      await server.close();
    }
  });
});

describe.each(ledgers)('per-subscription expiry-rate thresholds (%s ledger)', (_name, ledger) => {
  it('send each subscription the expiry spike of its own threshold, once', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const server = await startCyclesServer({
      ...config(ledger(), clock),
      events: { expiryRate: { minSamples: 4 } },
    });
    try {
      const run = `r${++runs}`;
      for (const [path, thresholds] of [
        ['/expiry-default', {}],
        ['/expiry-high', { expiry_rate_threshold: 0.75 }],
      ] as const) {
        const created = await send(server, 'POST', '/v1/webhooks', {
          url: `${services.hookBase}/${run}${path}`,
          event_types: ['reservation.expiry_rate_spike'],
          thresholds,
        });
        expect(created.status).toBe(201);
      }
      await server.rates!.flush();
      // Four holds: the first three with a 1 s TTL, left to expire one by one.
      for (let i = 0; i < 4; i++) {
        const held = await send(server, 'POST', '/v1/reservations', {
          idempotency_key: `expiring-${++keys}`,
          subject: { tenant: 'acme' },
          action: { kind: 'llm.completion', name: 'm' },
          estimate: { unit: 'TOKENS', amount: 1 },
          ttl_ms: i < 3 ? 1000 + i * 1000 : 60_000,
          grace_period_ms: 0,
        });
        expect(held.status).toBe(200);
      }
      const sweep = async () => {
        clock.advance(1001);
        const swept = await fetch(`${server.url}/v1/admin/sweep`, {
          method: 'POST',
          headers: { 'X-Admin-API-Key': ADMIN_KEY },
        });
        expect(swept.status).toBe(200);
        await settleRates([server]);
      };
      const spikes = (path: string) => (received.get(`/${run}${path}`) ?? []).map((spike) => spike.data);
      await sweep(); // 1 of 4 expired: 25 %, past the default 5 %
      expect(spikes('/expiry-default')).toEqual([
        expect.objectContaining({ metric: 'expiry_rate', threshold_rate: 0.05, sample_count: 4 }),
      ]);
      expect(spikes('/expiry-high')).toEqual([]);
      await sweep(); // 50 %
      expect(spikes('/expiry-high')).toEqual([]);
      await sweep(); // 75 %
      expect(spikes('/expiry-high')).toEqual([
        expect.objectContaining({ metric: 'expiry_rate', threshold_rate: 0.75, window_seconds: 300 }),
      ]);
      expect(spikes('/expiry-default')).toHaveLength(1);
      expect(violations.splice(0)).toEqual([]);
    } finally {
      await server.close();
    }
  });
});

describe('rate spikes on a Redis ledger shared by two servers', () => {
  it('are judged on the reserves of both, and fire once', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const shared = { type: 'redis' as const, url: services.redis.url, keyPrefix: 'rates-shared:' };
    const a = await startCyclesServer(config(shared, clock));
    const b = await startCyclesServer(config(shared, clock));
    try {
      const created = await send(a, 'POST', '/v1/webhooks', {
        url: `${services.hookBase}/shared`,
        event_types: ['reservation.denial_rate_spike'],
      });
      expect(created.status).toBe(201);
      await b.webhooks!.refresh();
      // 18 allowed and 2 denied, alternating: each server sees 10 reserves, under the 20 a window
      // needs, and 1 denial; together they reach 10 % of 20.
      for (let i = 0; i < 20; i++) await reserve(i % 2 === 0 ? a : b, i >= 18);
      await settleRates([a, b]);
      const spikes = received.get('/shared') ?? [];
      expect(spikes).toHaveLength(1);
      expect(spikes[0]!.data).toMatchObject({ threshold_rate: 0.1, sample_count: 20, window_seconds: 300 });
      const listed = await send(a, 'GET', '/v1/events?event_type=reservation.denial_rate_spike');
      expect(listed.body.events).toHaveLength(1);
      expect(violations.splice(0)).toEqual([]);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
