import { BudgetExceededError } from '@cycles-guard/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_KEY } from './support/http-ledger.ts';
import {
  ACME_KEY,
  MODEL,
  OTHER_MODEL,
  type SeededServer,
  spend,
  startSeededServer,
} from './support/seeded-server.ts';

let seeded: SeededServer;
beforeEach(async () => {
  seeded = await startSeededServer();
});
afterEach(async () => {
  await seeded.close();
});

async function get(path: string, headers: Record<string, string> = { 'X-Admin-API-Key': ADMIN_KEY }) {
  const response = await fetch(`${seeded.server.url}${path}`, { headers });
  return {
    status: response.status,
    type: response.headers.get('content-type') ?? '',
    text: await response.text(),
  };
}

/** The value of one Prometheus sample line, e.g. `name{a="b"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** Lets a commit's spend record (read back off the request's path) land. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

describe('/metrics', () => {
  it('is Prometheus text for the admin key only, with requests, ledger operations and budgets', async () => {
    await spend(seeded.acme, MODEL, 100);
    await spend(seeded.acme, MODEL, 100, { app: 'chat' });
    expect((await get('/metrics', {})).status).toBe(401);
    expect((await get('/metrics', { 'X-Cycles-API-Key': ACME_KEY })).status).toBe(401);
    const { status, type, text } = await get('/metrics', { Authorization: `Bearer ${ADMIN_KEY}` });
    expect(status).toBe(200);
    expect(type).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(sample(text, 'cycles_http_requests_total{operation="POST /v1/reservations",status="200"}')).toBe(
      2,
    );
    expect(
      sample(
        text,
        'cycles_http_requests_total{operation="POST /v1/reservations/:reservation_id/commit",status="200"}',
      ),
    ).toBe(2);
    expect(sample(text, 'cycles_ledger_operations_total{operation="commit",outcome="ok"}')).toBe(2);
    expect(sample(text, 'cycles_ledger_operation_duration_seconds_count{operation="reserve"}')).toBe(2);
    const state = await seeded.admin.getLedger('tenant:acme', 'USD_MICROCENTS');
    expect(sample(text, 'cycles_budget_spent{scope="tenant:acme",unit="USD_MICROCENTS"}')).toBe(state?.spent);
    expect(
      sample(text, 'cycles_budget_utilization_ratio{scope="tenant:acme",unit="USD_MICROCENTS"}'),
    ).toBeCloseTo((state?.spent ?? 0) / 50_000_000, 12);
    expect(text).toContain('process_cpu_user_seconds_total');
  });

  it('counts refusals by code and exposes the event and webhook hooks', async () => {
    await expect(async () => {
      for (let index = 0; index < 5; index++) await spend(seeded.globex, MODEL, 2000);
    }).rejects.toThrow(BudgetExceededError);
    seeded.server.app.cyclesMetrics.eventEmitted('reservation.denied');
    seeded.server.app.cyclesMetrics.webhookDelivery('delivered');
    const { text } = await get('/metrics');
    const refusals = (
      await get('/v1/x-cycles-guard/dashboard/state').then(({ text: body }) => JSON.parse(body))
    ).activity.filter((item: { kind: string }) => item.kind === 'denial').length;
    expect(refusals).toBeGreaterThan(0);
    expect(
      sample(text, 'cycles_ledger_operations_total{operation="reserve",outcome="BUDGET_EXCEEDED"}'),
    ).toBe(refusals);
    // The ledger's own reservation.denied events are counted too, beside the one sent by hand.
    await expect
      .poll(async () =>
        sample((await get('/metrics')).text, 'cycles_events_emitted_total{type="reservation.denied"}'),
      )
      .toBe(refusals + 1);
    expect(sample(text, 'cycles_webhook_deliveries_total{outcome="delivered"}')).toBe(1);
  });
});

describe('GET /v1/x-cycles-guard/reports/spend', () => {
  it('groups the charges the server confirmed by tenant and model, as JSON or CSV', async () => {
    const calls = [
      await spend(seeded.acme, MODEL, 100),
      await spend(seeded.acme, OTHER_MODEL, 300, { app: 'chat' }),
      await spend(seeded.globex, MODEL, 50),
    ];
    await settle();
    const charged = await Promise.all(calls.map((call) => call.hold.settlement));
    const amounts = charged.map((settlement) =>
      settlement?.status === 'committed' ? settlement.charged : -1,
    );
    const { status, text } = await get('/v1/x-cycles-guard/reports/spend?group_by=tenant,model');
    expect(status).toBe(200);
    const report = JSON.parse(text);
    expect(report.group_by).toEqual(['tenant', 'model']);
    const rows = report.rows.map(({ tenant, model, amount, count }: Record<string, unknown>) => ({
      tenant,
      model,
      amount,
      count,
    }));
    expect(rows).toEqual(
      expect.arrayContaining([
        { tenant: 'acme', model: MODEL, amount: amounts[0], count: 1 },
        { tenant: 'acme', model: OTHER_MODEL, amount: amounts[1], count: 1 },
        { tenant: 'globex', model: MODEL, amount: amounts[2], count: 1 },
      ]),
    );
    expect(rows).toHaveLength(3);
    const scopes = await get('/v1/x-cycles-guard/reports/spend?group_by=scope&format=csv');
    expect(scopes.type).toMatch(/^text\/csv/);
    expect(scopes.text.split('\n')[0]).toBe('scope,unit,amount,count');
    expect(scopes.text).toContain(`tenant:acme/app:chat,USD_MICROCENTS,${amounts[1]},1`);
    const byAccept = await get('/v1/x-cycles-guard/reports/spend?group_by=tenant', {
      'X-Admin-API-Key': ADMIN_KEY,
      Accept: 'text/csv',
    });
    expect(byAccept.text).toContain(`globex,USD_MICROCENTS,${amounts[2]},1`);
  });

  it('shows a tenant key its own spend only, and names a bad parameter', async () => {
    await spend(seeded.acme, MODEL, 100);
    await spend(seeded.globex, MODEL, 100);
    await settle();
    const own = JSON.parse(
      (await get('/v1/x-cycles-guard/reports/spend?group_by=tenant', { 'X-Cycles-API-Key': ACME_KEY })).text,
    );
    expect(own.rows.map((row: { tenant: string }) => row.tenant)).toEqual(['acme']);
    const refusals = [
      ['group_by=region', 'group_by'],
      ['from=yesterday', 'from'],
      ['format=xml', 'format'],
      ['tenant=globex', 'tenant'],
    ];
    for (const [query, field] of refusals) {
      const answer = await get(`/v1/x-cycles-guard/reports/spend?${query}`);
      expect(answer.status).toBe(400);
      expect(JSON.parse(answer.text).details?.field ?? JSON.parse(answer.text)).toBe(field);
    }
    expect((await get('/v1/x-cycles-guard/reports/spend', {})).status).toBe(401);
  });
});

describe('dashboard state', () => {
  it('shows the budgets as the admin API does, live holds and refusals', async () => {
    const open = await seeded.acme.beginLlmCall({ model: MODEL, inputTokens: 10, maxOutputTokens: 10 });
    await expect(async () => {
      for (let index = 0; index < 5; index++) await spend(seeded.globex, MODEL, 2000);
    }).rejects.toThrow(BudgetExceededError);
    expect((await get('/v1/x-cycles-guard/dashboard/state', { 'X-Cycles-API-Key': ACME_KEY })).status).toBe(
      401,
    );
    const state = JSON.parse((await get('/v1/x-cycles-guard/dashboard/state')).text);
    const budgets = await seeded.admin.listLedgers();
    expect(state.budgets).toHaveLength(budgets.length);
    for (const budget of budgets) {
      const shown = state.budgets.find((row: { scope: string }) => row.scope === budget.scope);
      expect(shown).toMatchObject({
        spent: budget.spent,
        allocated: budget.allocated,
        reserved: budget.reserved,
      });
    }
    expect(state.budgets.find((row: { scope: string }) => row.scope === 'tenant:acme').next_reset).toMatch(
      /T00:00:00/,
    );
    expect(state.reservations.map((row: { id: string }) => row.id)).toEqual([open.reservationId]);
    expect(state.activity.find((item: { kind: string }) => item.kind === 'denial')).toMatchObject({
      kind: 'denial',
      scope: 'tenant:globex',
      reason: 'BUDGET_EXCEEDED',
    });
    // The ledger's budget alerts (protocol events) show beside the refusals.
    expect(state.activity).toContainEqual(
      expect.objectContaining({ kind: 'alert', scope: 'tenant:globex', reason: 'budget.threshold_crossed' }),
    );
    await open.commit({ inputTokens: 10, outputTokens: 1 });
    const page = await get('/dashboard', {});
    expect(page.type).toMatch(/^text\/html/);
    expect(page.text).toContain('<label for="key">Admin API key</label>');
  });
});
