import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestSchemas } from '../scripts/generate-request-schemas.ts';
import { assertValidBody } from '../src/http/request-body.ts';
import { REQUEST_SCHEMAS } from '../src/http/request-schemas.generated.ts';
import { type CyclesServer, startCyclesServer } from '../src/server.ts';
import { createContractRecorder } from './support/contract.ts';
import { ADMIN_KEY } from './support/http-ledger.ts';

// The server's request validation comes from the spec: the checked-in schemas are what the generator
// derives from spec/ today, and every refusal is a 400 INVALID_REQUEST naming the field by its wire name.

describe('generated request schemas', () => {
  it('match what scripts/generate-request-schemas.ts derives from spec/ (run generate:schemas)', () => {
    expect(REQUEST_SCHEMAS).toEqual(requestSchemas());
  });

  it('accept the v0.1.26 additions and keep every object closed', () => {
    const reserve = REQUEST_SCHEMAS.reserve;
    expect(Object.keys(reserve.properties)).toContain('observe_mode');
    expect(Object.keys(reserve.$defs.Action.properties)).toContain('policy_keys');
    expect(reserve.$defs.ActionPolicyKeys.additionalProperties).toBe(false);
  });
});

const VALID = {
  idempotency_key: 'k-1',
  subject: { tenant: 'acme', dimensions: { user: 'u' } },
  action: { kind: 'llm.completion', name: 'm', tags: ['a'], policy_keys: { host: 'h', custom: { x: 'y' } } },
  estimate: { unit: 'TOKENS', amount: 5 },
  observe_mode: 'OBSERVE',
  metadata: { anything: { goes: [1] } },
};

function fieldOfRefusal(body: unknown): string | undefined {
  try {
    assertValidBody('reserve', body);
    return undefined;
  } catch (error) {
    return (error as { details?: { field?: string } }).details?.field;
  }
}

describe('assertValidBody', () => {
  it('accepts a valid body with every extension', () => {
    expect(fieldOfRefusal(VALID)).toBeUndefined();
  });

  it.each([
    ['a wrong type', { ttl_ms: '60000' }, 'ttl_ms'],
    ['a value out of range', { grace_period_ms: 60_001 }, 'grace_period_ms'],
    ['an unknown enum value', { observe_mode: 'SHADOW' }, 'observe_mode'],
    [
      'an unknown policy key',
      { action: { ...VALID.action, policy_keys: { hostname: 'x' } } },
      'action.policy_keys.hostname',
    ],
    [
      'too many custom policy keys',
      {
        action: {
          ...VALID.action,
          policy_keys: { custom: Object.fromEntries([...Array(9).keys()].map((i) => [`k${i}`, 'v'])) },
        },
      },
      'action.policy_keys.custom',
    ],
    ['a tag that is not a string', { action: { ...VALID.action, tags: ['a', 7] } }, 'action.tags[1]'],
    ['a subject with no standard level', { subject: { dimensions: { a: 'b' } } }, 'subject'],
    ['a missing estimate unit', { estimate: { amount: 5 } }, 'estimate.unit'],
  ])('refuses %s, naming the field', (_label, change, field) => {
    expect(fieldOfRefusal({ ...VALID, ...change })).toBe(field);
  });

  it('names a missing required field and refuses a non-object body', () => {
    const { idempotency_key: _dropped, ...rest } = VALID;
    expect(fieldOfRefusal(rest)).toBe('idempotency_key');
    expect(fieldOfRefusal([VALID])).toBe('body');
  });

  it('property: an unknown field at any closed level is refused by its path, before other problems', () => {
    const closed = [[], ['subject'], ['action'], ['estimate'], ['action', 'policy_keys']] as const;
    fc.assert(
      fc.property(
        fc.constantFrom(...closed),
        fc.stringMatching(/^[a-z][a-z_]{0,20}$/),
        fc.boolean(),
        (path, name, breakAnother) => {
          const body = structuredClone(VALID) as Record<string, unknown>;
          let target = body;
          for (const segment of path) target = target[segment] as Record<string, unknown>;
          fc.pre(
            !(name in target) &&
              !['tenant', 'workspace', 'app', 'workflow', 'agent', 'toolset'].includes(name),
          );
          target[name] = 1;
          if (breakAnother) body.ttl_ms = -1;
          expect(fieldOfRefusal(body)).toBe([...path, name].join('.'));
        },
      ),
    );
  });
});

/** A response body as the tests read it (an ErrorResponse or a reservation answer). */
interface WireBody {
  [field: string]: unknown;
  decision?: string;
  reservation_id?: string;
  message: string;
  details: { field?: string; deny_detail?: Record<string, unknown> };
}

describe('over HTTP', () => {
  const recorder = createContractRecorder();
  const KEY = 'acme-key-0001';
  let server: CyclesServer;
  beforeAll(async () => {
    server = await startCyclesServer({
      port: 0,
      adminApiKey: ADMIN_KEY,
      apiKeys: { [KEY]: 'acme' },
      ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS', allocated: 100 }],
      logLevel: 'warn',
    });
  });
  afterAll(async () => {
    await server.close();
    expect(recorder.violations, recorder.violations.join('\n')).toEqual([]);
  });

  async function post(
    path: string,
    body: unknown,
    headers: Record<string, string> = { 'X-Cycles-API-Key': KEY },
  ) {
    const response = await recorder.fetch(`${server.url}${path}`, {
      method: path.startsWith('/v1/admin') ? 'PUT' : 'POST',
      headers: { ...headers, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: (text === '' ? {} : JSON.parse(text)) as WireBody };
  }

  const reserve = (extra: Record<string, unknown>) =>
    post('/v1/reservations', {
      idempotency_key: `k-${Math.random()}`,
      subject: { tenant: 'acme' },
      action: { kind: 'llm.completion', name: 'm' },
      estimate: { unit: 'TOKENS', amount: 60 },
      ...extra,
    });

  it('errors name wire fields, in details.field and in the message', async () => {
    for (const [extra, field] of [
      [{ ttl_ms: 5 }, 'ttl_ms'],
      [{ grace_period_ms: -1 }, 'grace_period_ms'],
      [{ overage_policy: 'NOPE' }, 'overage_policy'],
      [{ idempotency_key: '' }, 'idempotency_key'],
    ] as const) {
      const { status, body } = await reserve(extra);
      expect(status).toBe(400);
      expect(body.details.field).toBe(field);
      expect(body.message.startsWith(field)).toBe(true);
    }
    // A client's own misspelling is named as sent, not renamed.
    const misspelt = await reserve({ ttlMs: 60_000 });
    expect([misspelt.status, misspelt.body.details.field]).toEqual([400, 'ttlMs']);
    const extend = await post('/v1/reservations/rsv_x/extend', { idempotency_key: 'e', extend_by_ms: 0 });
    expect([extend.status, extend.body.details.field]).toEqual([400, 'extend_by_ms']);
  });

  it('observe_mode OBSERVE answers 200 like a dry run; a live 409 carries details.deny_detail', async () => {
    const observed = await reserve({ observe_mode: 'OBSERVE', estimate: { unit: 'TOKENS', amount: 500 } });
    expect(observed.status).toBe(200);
    expect(observed.body).toMatchObject({
      decision: 'DENY',
      reason_code: 'BUDGET_EXCEEDED',
      deny_detail: { reason_code: 'BUDGET_EXCEEDED', blocked_by_scope: 'tenant:acme', budget_remaining: 100 },
    });
    expect(observed.body).not.toHaveProperty('reservation_id');
    const refused = await reserve({ estimate: { unit: 'TOKENS', amount: 500 } });
    expect(refused.status).toBe(409);
    expect(refused.body.details.deny_detail).toMatchObject({
      reason_code: 'BUDGET_EXCEEDED',
      budget_remaining: 100,
    });
  });

  it('the tenant default (admin observe_mode) observes reserves that do not choose; ENFORCE wins per request', async () => {
    const set = await post(
      '/v1/admin/tenants/acme',
      { observe_mode: 'OBSERVE' },
      { 'X-Admin-API-Key': ADMIN_KEY },
    );
    expect(set.status).toBeLessThan(300);
    const observed = await reserve({});
    expect([observed.status, observed.body.decision, observed.body.reservation_id]).toEqual([
      200,
      'ALLOW',
      undefined,
    ]);
    const enforced = await reserve({ observe_mode: 'ENFORCE' });
    expect(enforced.body.reservation_id).toMatch(/^rsv_/);
    const bad = await post(
      '/v1/admin/tenants/acme',
      { observe_mode: 'LOUD' },
      { 'X-Admin-API-Key': ADMIN_KEY },
    );
    expect([bad.status, bad.body.details.field]).toEqual([400, 'tenant.observe_mode']);
    await post('/v1/admin/tenants/acme', {}, { 'X-Admin-API-Key': ADMIN_KEY });
  });
});
