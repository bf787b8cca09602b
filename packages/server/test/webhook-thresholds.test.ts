import type { LedgerEventLog } from '@cycles-guard/core/ledger-kit';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CyclesServer, startCyclesServer } from '../src/server.ts';
import { govFetch } from './support/gov-fetch.ts';
import { ADMIN_KEY } from './support/http-ledger.ts';
import { LOOPBACK_WEBHOOKS } from './support/loopback-webhooks.ts';
import { type RecordingReceiver, startRecordingReceiver } from './support/recording-receiver.ts';

// Per-subscription `thresholds` (GOV WebhookThresholdConfig) decide what a subscription receives: its
// own `budget_utilization` crossings (which the ledger then emits for its tenant), or, without the
// field, the crossings the ledger's config sets (80 %, 95 %); `burn_rate_multiplier` keeps only the
// anomalies at least that steep. A real server, real reserves, a real receiver.

const TENANTS = 30;
const keyOf = (tenant: number) => `key-thresholds-${String(tenant).padStart(3, '0')}`;
let server: CyclesServer;
let receiver: RecordingReceiver;
let hookBase: string;
/** Path (one per subscription) → the events it received. */
const received = new Map<string, { event_type: string; tenant_id: string; data: Record<string, number> }[]>();
const violations: string[] = [];

beforeAll(async () => {
  receiver = await startRecordingReceiver(received);
  hookBase = receiver.base;
  server = await startCyclesServer({
    port: 0,
    adminApiKey: ADMIN_KEY,
    apiKeys: Object.fromEntries(Array.from({ length: TENANTS }, (_, i) => [keyOf(i), `t${i}`])),
    ledgers: Array.from({ length: TENANTS }, (_, i) => ({
      scope: `tenant:t${i}`,
      unit: 'TOKENS' as const,
      allocated: 1000,
    })),
    logLevel: 'silent',
    webhookSecurity: LOOPBACK_WEBHOOKS,
  });
});

afterAll(async () => {
  await server?.close();
  await receiver.close();
  expect(violations).toEqual([]);
});

// biome-ignore lint/suspicious/noExplicitAny: parsed JSON bodies, GOV-checked by send()
type Json = any;

async function send(
  method: string,
  path: string,
  body?: unknown,
  key?: string,
): Promise<{ status: number; body: Json }> {
  const reply = await govFetch(server.url, method, path, key === undefined ? { admin: true } : { key }, body);
  violations.push(...reply.problems);
  return { status: reply.status, body: reply.body ?? {} };
}

let hooks = 0;
async function subscribe(
  tenant: number,
  thresholds?: Record<string, unknown>,
  types = ['budget.threshold_crossed'],
) {
  const path = `/hook/${++hooks}`;
  const created = await send(
    'POST',
    '/v1/webhooks',
    { url: `${hookBase}${path}`, event_types: types, ...(thresholds === undefined ? {} : { thresholds }) },
    keyOf(tenant),
  );
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return { path, id: created.body.subscription.subscription_id as string };
}

let reserves = 0;
async function reserve(tenant: number, amount: number): Promise<void> {
  const response = await fetch(`${server.url}/v1/reservations`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Cycles-API-Key': keyOf(tenant) },
    body: JSON.stringify({
      idempotency_key: `th-${++reserves}`,
      subject: { tenant: `t${tenant}` },
      action: { kind: 'llm.completion', name: 'm' },
      estimate: { unit: 'TOKENS', amount },
    }),
  });
  expect(response.status).toBe(200);
}

const crossings = (path: string): number[] =>
  (received.get(path) ?? [])
    .filter((e) => e.event_type === 'budget.threshold_crossed')
    .map((e) => e.data.threshold as number);

describe('per-subscription thresholds', () => {
  it('send each subscription its own crossings, and the ledger’s to one without its own', async () => {
    const half = await subscribe(0, { budget_utilization: [0.5] });
    const plain = await subscribe(0);
    const eighty = await subscribe(0, { budget_utilization: [0.8] });
    await reserve(0, 550);
    await server.webhooks!.idle();
    expect(crossings(half.path)).toEqual([0.5]);
    expect(crossings(plain.path)).toEqual([]);
    expect(crossings(eighty.path)).toEqual([]);
    await reserve(0, 300);
    await server.webhooks!.idle();
    expect(crossings(half.path)).toEqual([0.5]);
    expect(crossings(plain.path)).toEqual([0.8]);
    expect(crossings(eighty.path)).toEqual([0.8]);
    // The 50 % threshold is t0's only: another tenant's budget emits no crossing there.
    await reserve(1, 550);
    const events = await send('GET', '/v1/admin/events?tenant_id=t1&event_type=budget.threshold_crossed');
    expect(events.body.events).toEqual([]);
    const log = server.ledger.events as LedgerEventLog;
    expect(log.thresholdsOf('tenant:t0')).toEqual([0.5, 0.8, 0.95]);
    await send('DELETE', `/v1/webhooks/${half.id}`, undefined, keyOf(0));
    expect(log.thresholdsOf('tenant:t0')).toEqual([0.8, 0.95]);
  });

  it('keep only the burn-rate anomalies at least as steep as burn_rate_multiplier', async () => {
    const steep = await subscribe(2, { burn_rate_multiplier: 5 }, ['budget.burn_rate_anomaly']);
    const any = await subscribe(2, undefined, ['budget.burn_rate_anomaly']);
    // The ledger's detector (another part) publishes these; here they go through the same pipeline.
    server.ledger.events!.publish(
      [4, 10].map((ratio) => ({
        type: 'budget.burn_rate_anomaly' as const,
        tenant: 't2',
        scope: 'tenant:t2',
        data: {
          scope: 'tenant:t2',
          unit: 'TOKENS',
          current_rate: 10 * ratio,
          baseline_rate: 10,
          multiplier: 3,
        },
      })),
    );
    await server.webhooks!.idle();
    expect((received.get(steep.path) ?? []).map((e) => e.data.current_rate)).toEqual([100]);
    expect((received.get(any.path) ?? []).map((e) => e.data.current_rate)).toEqual([40, 100]);
  });

  it('are validated field by field, naming the field', async () => {
    for (const [thresholds, field] of [
      [{ budget_utilization: [1.5] }, 'thresholds.budget_utilization'],
      [{ budget_utilization: 0.5 }, 'thresholds.budget_utilization'],
      [{ burn_rate_multiplier: 1 }, 'thresholds.burn_rate_multiplier'],
      [{ burn_rate_window_seconds: 30 }, 'thresholds.burn_rate_window_seconds'],
      [{ rate_window_seconds: 60.5 }, 'thresholds.rate_window_seconds'],
      [{ denial_rate_threshold: -0.1 }, 'thresholds.denial_rate_threshold'],
      [{ nope: 1 }, 'thresholds.nope'],
      [[0.5], 'thresholds'],
    ] as const) {
      const refused = await send(
        'POST',
        '/v1/webhooks',
        { url: `${hookBase}/x`, event_types: ['budget.threshold_crossed'], thresholds },
        keyOf(3),
      );
      expect(refused.status, JSON.stringify(thresholds)).toBe(400);
      expect(refused.body.details.field).toBe(field);
    }
    expect((await send('GET', '/v1/webhooks', undefined, keyOf(3))).body.subscriptions).toEqual([]);
  });

  it('match a model: each subscription gets each of its thresholds once, when utilization reaches it', async () => {
    let tenant = 4;
    const level = fc.integer({ min: 1, max: 19 }).map((n) => n / 20);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.option(fc.uniqueArray(level, { minLength: 1, maxLength: 4 }), { nil: undefined }), {
          minLength: 1,
          maxLength: 3,
        }),
        fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 6 }),
        async (wanted, amounts) => {
          const t = tenant++;
          const subs = [];
          for (const list of wanted)
            subs.push({ list, ...(await subscribe(t, list && { budget_utilization: list })) });
          let reserved = 0;
          // Reserves past the allocation would be denied: stop before them.
          for (const amount of amounts.filter(
            (_, i) => amounts.slice(0, i + 1).reduce((sum, x) => sum + x, 0) <= 1000,
          )) {
            await reserve(t, amount);
            reserved += amount;
          }
          await server.webhooks!.idle();
          for (const { list, path } of subs) {
            const expected = (list ?? [0.8, 0.95])
              .filter((threshold) => reserved / 1000 >= threshold)
              .sort((a, b) => a - b);
            expect(crossings(path).sort((a, b) => a - b)).toEqual(expected);
          }
        },
      ),
      { numRuns: TENANTS - 4 },
    );
  });
});
