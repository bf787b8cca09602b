import { ManualClock } from '@cycles-guard/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { type CyclesServer, startCyclesServer } from '../src/server.ts';
import { checkGovResponse, govSchemaProblems } from './support/gov-contract.ts';
import { ADMIN_KEY } from './support/http-ledger.ts';
import { useRedisServer } from './support/redis-server.ts';

// The rate-based events over HTTP, on the memory ledger and on Redis (a real redis-server), with the
// server's defaults (GOV WebhookThresholdConfig's): budget.burn_rate_anomaly at 3x the baseline over
// 5-minute windows, reservation.denial_rate_spike at 10 % of at least 20 reserves. Listed by the tenant
// (GOV EventListResponse) and each payload checked against its GOV EventData* schema.

const KEY = 'acme-key-derived-01';
const redis = useRedisServer();
let server: CyclesServer;
let prefixes = 0;
afterEach(async () => {
  await server?.close();
});

// biome-ignore lint/suspicious/noExplicitAny: parsed JSON bodies, checked against the GOV schemas
type Json = any;

let keys = 0;
async function post(path: string, body: unknown): Promise<number> {
  const response = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Cycles-API-Key': KEY },
    body: JSON.stringify(body),
  });
  await response.arrayBuffer();
  return response.status;
}

const spend = (amount: number) =>
  post('/v1/events', {
    idempotency_key: `e-${++keys}`,
    subject: { tenant: 'acme' },
    action: { kind: 'llm.completion', name: 'm' },
    actual: { unit: 'TOKENS', amount },
  });

const reserve = (amount: number) =>
  post('/v1/reservations', {
    idempotency_key: `r-${++keys}`,
    subject: { tenant: 'acme' },
    action: { kind: 'llm.completion', name: 'm' },
    estimate: { unit: 'TOKENS', amount },
  });

/** The tenant's events of one type, once `count` are listed (Redis stores them off the request's path). */
async function listed(type: string, count: number): Promise<Json[]> {
  const url = `${server.url}/v1/events?event_type=${type}`;
  for (let waited = 0; ; waited += 20) {
    const response = await fetch(url, { headers: { 'X-Cycles-API-Key': KEY } });
    const body = (await response.json()) as Json;
    expect(checkGovResponse('GET', url, response.status, body).problems).toEqual([]);
    if (body.events.length >= count || waited > 3000) return body.events;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe.each(['memory', 'redis'] as const)('rate events over HTTP on the %s ledger', (kind) => {
  async function start(clock: ManualClock): Promise<void> {
    server = await startCyclesServer({
      port: 0,
      adminApiKey: ADMIN_KEY,
      apiKeys: { [KEY]: 'acme' },
      clock,
      ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS', allocated: 10_000 }],
      ...(kind === 'redis'
        ? { ledger: { type: 'redis' as const, url: redis.server.url, keyPrefix: `de${++prefixes}:` } }
        : {}),
      logLevel: 'silent',
    });
  }

  it('reports a burn-rate anomaly when a window spends 3x the baseline', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1, 9));
    await start(clock);
    expect(await spend(100)).toBe(201);
    clock.advance(300_000);
    expect(await spend(299)).toBe(201); // under 3 x 100
    expect(await spend(1)).toBe(201); // 300: the anomaly
    const [anomaly] = await listed('budget.burn_rate_anomaly', 1);
    expect(govSchemaProblems('EventDataBurnRateAnomaly', anomaly.data)).toEqual([]);
    expect(anomaly).toMatchObject({
      tenant_id: 'acme',
      scope: 'tenant:acme',
      data: { current_rate: 60, baseline_rate: 20, multiplier: 3, window_seconds: 300 },
    });
    expect(anomaly.data.projected_exhaustion_minutes).toBeCloseTo((10_000 - 400) / 60);
  });

  it('reports a denial-rate spike once 10 % of at least 20 reserves were denied', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1, 9));
    await start(clock);
    for (let i = 0; i < 18; i++) expect(await reserve(1)).toBe(200);
    expect(await reserve(50_000)).toBe(409);
    expect(await reserve(50_000)).toBe(409); // the 20th reserve, the 2nd denial: 10 %
    const [spike] = await listed('reservation.denial_rate_spike', 1);
    expect(govSchemaProblems('EventDataRateSpike', spike.data)).toEqual([]);
    expect(spike.data).toMatchObject({ metric: 'denial_rate', threshold_rate: 0.1, sample_count: 20 });
    expect(await reserve(50_000)).toBe(409);
    // Once the third denial is listed, everything before it is: still one spike in the window.
    expect(await listed('reservation.denied', 3)).toHaveLength(3);
    expect(await listed('reservation.denial_rate_spike', 1)).toHaveLength(1);
  });
});
