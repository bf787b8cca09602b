import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CyclesServer, startCyclesServer } from '../src/server.ts';
import { createContractRecorder } from './support/contract.ts';

// What the official Cycles TypeScript client's live-server suite calls besides the runtime operations:
// the reference server's actuator health path and the governance form of the balance query
// (`?tenant_id=`). Every protocol answer is validated against the spec by the recorder.

const recorder = createContractRecorder();
const KEY = 'live-key-0001';
let server: CyclesServer;

beforeAll(async () => {
  server = await startCyclesServer({
    port: 0,
    apiKeys: { [KEY]: 'integration-test', 'other-key-0001': 'other' },
    ledgers: [
      { scope: 'tenant:integration-test', unit: 'USD_MICROCENTS', allocated: 100_000 },
      { scope: 'tenant:other', unit: 'USD_MICROCENTS', allocated: 100 },
    ],
    logLevel: 'warn',
  });
});

afterAll(async () => {
  await server.close();
  expect(recorder.violations, recorder.violations.join('\n')).toEqual([]);
});

const get = (path: string, key = KEY) =>
  recorder.fetch(`${server.url}${path}`, { headers: { 'X-Cycles-API-Key': key } });

describe('paths the official client calls', () => {
  it('GET /actuator/health answers 200', async () => {
    expect((await fetch(`${server.url}/actuator/health`)).status).toBe(200);
  });

  it('GET /v1/balances?tenant_id= is the tenant filter (the governance spec form)', async () => {
    const response = await get('/v1/balances?tenant_id=integration-test');
    expect(response.status).toBe(200);
    const body = (await response.json()) as { balances: { scope_path: string }[] };
    expect(body.balances.map((balance) => balance.scope_path)).toEqual(['tenant:integration-test']);
  });

  it('refuses another tenant by tenant_id (403), two different tenants (400) and a repeated tenant_id (400)', async () => {
    expect((await get('/v1/balances?tenant_id=other')).status).toBe(403);
    const both = await get('/v1/balances?tenant_id=integration-test&tenant=other');
    expect([both.status, ((await both.json()) as { details: { field: string } }).details.field]).toEqual([
      400,
      'tenant_id',
    ]);
    expect((await get('/v1/balances?tenant_id=a&tenant_id=b')).status).toBe(400);
    expect((await get('/v1/balances?tenant_id=integration-test&tenant=integration-test')).status).toBe(200);
  });
});
