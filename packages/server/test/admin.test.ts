import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAdminClient } from '../src/admin/client.ts';
import { type CyclesServer, startCyclesServer } from '../src/server.ts';
import { ADMIN_KEY } from './support/http-ledger.ts';

// Provisioning without code: the admin endpoints, raw and through the typed admin client.

let server: CyclesServer;

beforeEach(async () => {
  server = await startCyclesServer({ port: 0, adminApiKey: ADMIN_KEY, logLevel: 'silent' });
});
afterEach(async () => {
  await server.close();
});

async function adminCall(method: string, path: string, body?: unknown, key: string | null = ADMIN_KEY) {
  const headers: Record<string, string> = {};
  if (key !== null) headers['X-Admin-API-Key'] = key;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(`${server.url}/v1/admin${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
}

describe('admin endpoints', () => {
  it('401 without the admin key, or with a tenant key; disabled when no admin key is configured', async () => {
    expect((await adminCall('GET', '/budgets', undefined, null)).status).toBe(401);
    expect((await adminCall('GET', '/budgets', undefined, 'wrong-admin-key-0000000')).body.error).toBe(
      'UNAUTHORIZED',
    );
    const bare = await startCyclesServer({ port: 0, logLevel: 'silent' });
    try {
      const response = await fetch(`${bare.url}/v1/admin/budgets`, {
        headers: { 'X-Admin-API-Key': ADMIN_KEY },
      });
      expect(response.status).toBe(401);
      expect(((await response.json()) as { message: string }).message).toMatch(/disabled/);
    } finally {
      await bare.close();
    }
  });

  it('creates a budget (201), refuses a duplicate (409), funds, freezes and reads it', async () => {
    const created = await adminCall('POST', '/budgets', {
      scope: 'tenant:acme',
      unit: 'USD_MICROCENTS',
      allocated: 500_000_000,
      overdraft_limit: 1000,
      window: { period: 'day', time_zone: 'Europe/Paris' },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      scope: 'tenant:acme',
      allocated: 500_000_000,
      remaining: 500_000_000,
      overdraft_limit: 1000,
      status: 'ACTIVE',
      window: { period: 'day', time_zone: 'Europe/Paris' },
    });
    const duplicate = await adminCall('POST', '/budgets', {
      scope: 'tenant:acme',
      unit: 'USD_MICROCENTS',
      allocated: 1,
    });
    expect(duplicate.status).toBe(409);
    const budget = '?scope=tenant:acme&unit=USD_MICROCENTS';
    const credit = await adminCall('POST', `/budgets/fund${budget}`, {
      operation: 'CREDIT',
      amount: 100,
      reason: 'top-up',
    });
    expect(credit.body).toMatchObject({
      operation: 'CREDIT',
      previous_allocated: 500_000_000,
      new_allocated: 500_000_100,
      ledger: { remaining: 500_000_100 },
    });
    const debit = await adminCall('POST', `/budgets/fund${budget}`, {
      operation: 'DEBIT',
      amount: 600_000_000,
    });
    expect(debit.status).toBe(409);
    const frozen = await adminCall('PATCH', `/budgets${budget}`, { status: 'FROZEN' });
    expect(frozen.body.status).toBe('FROZEN');
    const fundFrozen = await adminCall('POST', `/budgets/fund${budget}`, { operation: 'CREDIT', amount: 1 });
    expect([fundFrozen.status, fundFrozen.body.error]).toEqual([409, 'BUDGET_FROZEN']);
    expect((await adminCall('GET', `/budgets${budget}`)).body.status).toBe('FROZEN');
    expect((await adminCall('GET', '/budgets')).body.ledgers).toHaveLength(1);
    const missing = await adminCall('GET', '/budgets?scope=tenant:nobody&unit=TOKENS');
    expect(missing.status).toBe(404);
  });

  it('refuses unknown fields, bad operations and missing query parameters with 400 naming the field', async () => {
    const unknown = await adminCall('POST', '/budgets', {
      scope: 'tenant:a',
      unit: 'TOKENS',
      allocated: 1,
      budget: 5,
    });
    expect(unknown.body).toMatchObject({ error: 'INVALID_REQUEST', details: { field: 'budget' } });
    await adminCall('POST', '/budgets', { scope: 'tenant:a', unit: 'TOKENS', allocated: 1 });
    const badOperation = await adminCall('POST', '/budgets/fund?scope=tenant:a&unit=TOKENS', {
      operation: 'REFUND',
      amount: 1,
    });
    expect(badOperation.body.details).toEqual({ field: 'operation' });
    const noScope = await adminCall('POST', '/budgets/fund?unit=TOKENS', { operation: 'CREDIT', amount: 1 });
    expect(noScope.body.details).toEqual({ field: 'scope' });
    const badScope = await adminCall('POST', '/budgets', { scope: 'team:x', unit: 'TOKENS', allocated: 1 });
    expect(badScope.status).toBe(400);
  });

  it('issues tenant keys that work on the runtime API, and applies templates and tenant settings', async () => {
    const admin = createAdminClient({ baseUrl: server.url, adminApiKey: ADMIN_KEY });
    await admin.addTemplate({ pattern: 'tenant:*', unit: 'TOKENS', allocated: 300 });
    await admin.setTenant('newco', { defaultReservationTtlMs: 5000 });
    const apiKey = await admin.issueApiKey('NewCo');
    const response = await fetch(`${server.url}/v1/reservations`, {
      method: 'POST',
      headers: { 'X-Cycles-API-Key': apiKey, 'Content-Type': 'application/json' },
      body: JSON.stringify({
        idempotency_key: 'r-1',
        subject: { tenant: 'newco' },
        action: { kind: 'llm.completion', name: 'm' },
        estimate: { unit: 'TOKENS', amount: 100 },
      }),
    });
    const body = (await response.json()) as { expires_at_ms: number };
    expect(response.headers.get('x-cycles-tenant')).toBe('newco');
    expect(body.expires_at_ms - Date.now()).toBeLessThanOrEqual(5000);
    expect(await admin.getLedger('tenant:newco', 'TOKENS')).toMatchObject({ allocated: 300, reserved: 100 });
    expect(await admin.sweepExpired()).toBe(0);
  });
});
