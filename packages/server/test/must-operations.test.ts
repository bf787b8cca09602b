import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CyclesServer, startCyclesServer } from '../src/server.ts';
import { GOV_ROUTES } from './support/gov-contract.ts';
import { ADMIN_KEY } from './support/http-ledger.ts';

// Conformance v0.1.25 requires 12 operations: the 4 core runtime ones and the 8 cross-plane ones the GOV
// spec marks `x-conformance: normative`. This fails when any of them is not served.

const RUNTIME_MUST = [
  { method: 'POST', path: '/v1/reservations', id: 'createReservation' },
  { method: 'POST', path: '/v1/reservations/{reservation_id}/commit', id: 'commitReservation' },
  { method: 'POST', path: '/v1/reservations/{reservation_id}/release', id: 'releaseReservation' },
  { method: 'POST', path: '/v1/reservations/{reservation_id}/extend', id: 'extendReservation' },
];

let server: CyclesServer;
beforeAll(async () => {
  server = await startCyclesServer({ port: 0, adminApiKey: ADMIN_KEY, logLevel: 'silent' });
});
afterAll(async () => {
  await server.close();
});

describe('the 12 MUST operations of v0.1.25', () => {
  const crossPlane = GOV_ROUTES.filter((route) => route.operation['x-conformance'] === 'normative').map(
    (route) => ({ method: route.method, path: route.path, id: route.operation.operationId }),
  );

  it('are 12, as CONFORMANCE.md counts them', () => {
    expect(crossPlane.map((route) => route.id).sort()).toEqual(
      [
        'getBalances',
        'getEvent',
        'introspectAuth',
        'listEvents',
        'listTenantEvents',
        'listTenantWebhookDeliveries',
        'listWebhookDeliveries',
        'replayEvents',
      ].sort(),
    );
    expect(RUNTIME_MUST.length + crossPlane.length).toBe(12);
  });

  it('are all served', () => {
    const served = (route: { method: string; path: string }) =>
      server.app.hasRoute({ method: route.method as 'GET', url: route.path.replace(/\{([^}]+)\}/g, ':$1') });
    const missing = [...RUNTIME_MUST, ...crossPlane]
      .filter((route) => !served(route))
      .map((route) => route.id);
    expect(missing, 'MUST operations not served').toEqual([]);
  });
});
