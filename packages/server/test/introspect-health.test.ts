import { connect } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TENANT_KEY_PERMISSIONS, tenantCapabilities } from '../src/auth/capabilities.ts';
import { type CyclesServer, startCyclesServer } from '../src/server.ts';
import { ADMIN_KEY } from './support/http-ledger.ts';
import { startSlowReserveServer } from './support/slow-reserve-server.ts';
import { GOVERNANCE, specProblems } from './support/spec-schema.ts';

// GET /v1/auth/introspect and the actuator health paths the official Cycles clients call.

const ACME_KEY = 'acme-key-0001';
let server: CyclesServer;

beforeEach(async () => {
  server = await startCyclesServer({
    port: 0,
    adminApiKey: ADMIN_KEY,
    apiKeys: { [ACME_KEY]: 'Acme' },
    logLevel: 'warn',
  });
});

afterEach(async () => {
  await server.close();
});

async function introspect(headers: Record<string, string>) {
  const response = await fetch(`${server.url}/v1/auth/introspect`, { headers });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('GET /v1/auth/introspect', () => {
  it('answers a tenant key with its tenant, permissions and the derived capabilities', async () => {
    const { status, body } = await introspect({ 'X-Cycles-API-Key': ACME_KEY });
    expect(status).toBe(200);
    expect(specProblems(GOVERNANCE, 'AuthIntrospectResponse', body)).toEqual([]);
    expect(body).toMatchObject({ authenticated: true, auth_type: 'tenant', tenant_id: 'acme' });
    expect(body.permissions).toEqual(TENANT_KEY_PERMISSIONS);
    expect(body.capabilities).toMatchObject({
      view_reservations: true,
      manage_reservations: true,
      view_budgets: false,
      manage_budgets: false,
      view_tenants: false,
      view_overview: false,
    });
  });

  it('answers the admin key with every capability and no tenant', async () => {
    const { status, body } = await introspect({ 'X-Admin-API-Key': ADMIN_KEY });
    expect(status).toBe(200);
    expect(specProblems(GOVERNANCE, 'AuthIntrospectResponse', body)).toEqual([]);
    expect(body).toMatchObject({ authenticated: true, auth_type: 'admin', permissions: ['*'] });
    expect(body).not.toHaveProperty('tenant_id');
    expect(Object.values(body.capabilities as object).every((flag) => flag === true)).toBe(true);
  });

  it('refuses a missing or unknown key with 401 in the ErrorResponse shape', async () => {
    const attempts: Record<string, string>[] = [
      {},
      { 'X-Cycles-API-Key': 'nope' },
      { 'X-Admin-API-Key': 'nope' },
    ];
    for (const headers of attempts) {
      const { status, body } = await introspect(headers);
      expect(status).toBe(401);
      expect(body.error).toBe('UNAUTHORIZED');
    }
  });
});

describe('capability derivation (the spec table)', () => {
  it('keeps the six admin-plane flags false for a tenant key, even with admin permissions', () => {
    const capabilities = tenantCapabilities(['admin:read', 'admin:write', 'events:read']);
    for (const flag of [
      'view_tenants',
      'view_api_keys',
      'view_audit',
      'view_overview',
      'manage_tenants',
      'manage_api_keys',
    ]) {
      expect(capabilities[flag]).toBe(false);
    }
    expect(capabilities).toMatchObject({ view_events: true, view_budgets: true, manage_webhooks: true });
  });

  it('derives each view/manage flag from its own permissions only', () => {
    expect(tenantCapabilities(['webhooks:read'])).toMatchObject({
      view_webhooks: true,
      manage_webhooks: false,
      view_events: false,
      view_reservations: false,
    });
    expect(tenantCapabilities(['reservations:list'])).toMatchObject({
      view_reservations: true,
      manage_reservations: false,
    });
  });
});

describe('actuator health', () => {
  it('answers readiness, liveness and health UP beside /health', async () => {
    for (const path of ['/actuator/health', '/actuator/health/readiness', '/actuator/health/liveness']) {
      const response = await fetch(`${server.url}${path}`);
      expect(response.status, path).toBe(200);
      expect(await response.json()).toEqual({ status: 'UP' });
    }
    expect(await (await fetch(`${server.url}/health`)).json()).toEqual({ status: 'ok', ledger: 'memory' });
  });
});

describe('actuator health while shutting down', () => {
  /** A raw connection with a GET half sent (so close() keeps it open); `finish()` resolves to status and body. */
  async function halfSent(url: string, path: string) {
    const socket = connect(Number(new URL(url).port), '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    const closed = new Promise((resolve) => socket.on('close', resolve));
    await new Promise((resolve) => socket.on('connect', resolve));
    socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n`);
    return async () => {
      socket.write('Connection: close\r\n\r\n');
      await closed;
      const [head = '', body = ''] = Buffer.concat(chunks).toString('utf8').split('\r\n\r\n');
      return { status: Number(head.split(' ')[1]), body: JSON.parse(body) as unknown };
    };
  }

  it('readiness says OUT_OF_SERVICE (503) so balancers drain; liveness stays UP', async () => {
    // A slow reserve keeps the server draining while the probes finish their requests.
    const { server: draining, inner, reserveEntered, reserve } = await startSlowReserveServer(ACME_KEY, 500);
    const readiness = await halfSent(draining.url, '/actuator/health/readiness');
    const liveness = await halfSent(draining.url, '/actuator/health/liveness');
    const inFlight = reserve();
    await reserveEntered;
    const closed = draining.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await readiness()).toEqual({ status: 503, body: { status: 'OUT_OF_SERVICE' } });
    expect(await liveness()).toEqual({ status: 200, body: { status: 'UP' } });
    expect((await inFlight).status).toBe(200);
    await closed;
    await inner.close?.();
  });
});
