import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyServerEnv, parseServerConfig } from '../src/config.ts';
import { type CyclesServer, startCyclesServer } from '../src/server.ts';
import { ADMIN_KEY } from './support/http-ledger.ts';

// A flood of new subjects over HTTP (issue 22): one tenant key minting app names is refused at its own
// bound with a protocol error naming it, other keys are not, memory stays bounded (counted, not timed),
// and the admin API shows how many template ledgers each tenant holds.

const NOISY_KEY = 'noisy-key-0123456789';
const QUIET_KEY = 'quiet-key-0123456789';
let server: CyclesServer;

beforeAll(async () => {
  server = await startCyclesServer({
    port: 0,
    adminApiKey: ADMIN_KEY,
    logLevel: 'silent',
    apiKeys: { [NOISY_KEY]: 'noisy', [QUIET_KEY]: 'quiet' },
    maxTemplateLedgersPerTenant: 20,
    maxTemplateLedgers: 1000,
    templates: [
      { pattern: 'tenant:*', unit: 'TOKENS', allocated: 1_000_000, window: { period: 'day' } },
      { pattern: 'tenant:*/app:*', unit: 'TOKENS', allocated: 1000, window: { period: 'day' } },
    ],
  });
});
afterAll(async () => {
  await server?.close();
});

let requests = 0;
async function reserve(key: string, subject: Record<string, string>) {
  const response = await fetch(`${server.url}/v1/reservations`, {
    method: 'POST',
    headers: { 'X-Cycles-API-Key': key, 'Content-Type': 'application/json' },
    body: JSON.stringify({
      idempotency_key: `flood-${++requests}`,
      subject,
      action: { kind: 'llm.completion', name: 'flood' },
      estimate: { unit: 'TOKENS', amount: 10 },
    }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function templateLedgers(): Promise<Record<string, unknown>> {
  const response = await fetch(`${server.url}/v1/admin/template-ledgers`, {
    headers: { 'X-Admin-API-Key': ADMIN_KEY },
  });
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, unknown>;
}

describe('server: a flood of new subjects', () => {
  it('a tenant key minting 400 app names holds 20 template ledgers; the rest get 400 naming the bound', async () => {
    const statuses: Record<number, number> = {};
    let refusal: Record<string, unknown> | undefined;
    for (let i = 0; i < 400; i++) {
      const { status, body } = await reserve(NOISY_KEY, { tenant: 'noisy', app: `app-${i}` });
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status === 400) refusal = body;
    }
    expect(statuses).toEqual({ 200: 19, 400: 381 });
    expect(refusal).toMatchObject({
      error: 'INVALID_REQUEST',
      details: {
        bound: 'maxTemplateLedgersPerTenant',
        limit: 20,
        tenant: 'noisy',
        template: 'tenant:*/app:*',
      },
    });
    expect(String(refusal?.message)).toMatch(/maxTemplateLedgersPerTenant/);
    // Another tenant key is untouched by the noisy one.
    expect((await reserve(QUIET_KEY, { tenant: 'quiet', app: 'chat' })).status).toBe(200);
    expect(await templateLedgers()).toEqual({
      total: 22,
      limit: 1000,
      per_tenant_limit: 20,
      by_tenant: { noisy: 20, quiet: 2 },
    });
    expect(await server.ledger.listLedgers()).toHaveLength(22);
  });

  it('a tenant setting raises one tenant’s bound through the admin API', async () => {
    const put = await fetch(`${server.url}/v1/admin/tenants/noisy`, {
      method: 'PUT',
      headers: { 'X-Admin-API-Key': ADMIN_KEY, 'Content-Type': 'application/json' },
      body: JSON.stringify({ max_template_ledgers: 25 }),
    });
    expect(put.status).toBe(204);
    for (let i = 400; i < 410; i++) await reserve(NOISY_KEY, { tenant: 'noisy', app: `app-${i}` });
    expect((await templateLedgers()).by_tenant).toEqual({ noisy: 25, quiet: 2 });
  });
});

describe('server config: template bounds', () => {
  it('reads them from the file and the environment, and names a bad one', () => {
    const config = parseServerConfig({ maxTemplateLedgers: 5000, maxTemplateLedgersPerTenant: 50 });
    expect(config).toMatchObject({ maxTemplateLedgers: 5000, maxTemplateLedgersPerTenant: 50 });
    expect(
      applyServerEnv(config, { CYCLES_MAX_TEMPLATE_LEDGERS_PER_TENANT: '7' }).maxTemplateLedgersPerTenant,
    ).toBe(7);
    expect(() => parseServerConfig({ maxTemplateLedgers: -1 })).toThrow(/maxTemplateLedgers/);
    expect(() => applyServerEnv(config, { CYCLES_MAX_TEMPLATE_LEDGERS: 'lots' })).toThrow(
      /CYCLES_MAX_TEMPLATE_LEDGERS/,
    );
  });
});
