import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createMemoryLedger } from '../ledger/memory-ledger.ts';
import { InvalidConfigError, InvalidRequestError } from '../protocol/errors.ts';
import { recordSpend } from './record-spend.ts';
import { SpendLog } from './spend-log.ts';
import { parseSpendReportQuery, spendReport, spendReportCsv } from './spend-report.ts';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 11, 7);

const charge = fc.record({
  minute: fc.integer({ min: 0, max: 600 }),
  tenant: fc.constantFrom('acme', 'globex'),
  app: fc.constantFrom(undefined, 'chat', 'search'),
  model: fc.constantFrom(undefined, 'm.alpha', 'm.beta'),
  amount: fc.integer({ min: 0, max: 1_000_000 }),
});

describe('spend report', () => {
  it('sums every charge in range exactly once, whatever the grouping (property)', () => {
    fc.assert(
      fc.property(
        fc.array(charge, { maxLength: 60 }),
        fc.subarray(['tenant', 'model', 'scope'] as const),
        fc.integer({ min: 0, max: 600 }),
        fc.integer({ min: 0, max: 600 }),
        (charges, groupBy, a, b) => {
          const log = new SpendLog();
          for (const { minute, tenant, app, model, amount } of charges) {
            log.record({
              timeMs: T0 + minute * 60_000 + 59_999,
              subject: app === undefined ? { tenant } : { tenant, app },
              unit: 'USD_MICROCENTS',
              amount,
              model,
            });
          }
          const [from, to] = a <= b ? [a, b] : [b, a];
          const report = spendReport(log, { fromMs: T0 + from * 60_000, toMs: T0 + to * 60_000, groupBy });
          const expected = charges.filter((c) => c.minute >= from && c.minute < to);
          const total = report.rows.reduce((sum, row) => sum + row.amount, 0);
          expect(total).toBe(expected.reduce((sum, c) => sum + c.amount, 0));
          expect(report.rows.reduce((sum, row) => sum + row.count, 0)).toBe(
            expected.filter((c) => c.amount > 0).length,
          );
          const keys = report.rows.map((row) => JSON.stringify(groupBy.map((group) => row[group])));
          expect(new Set(keys).size).toBe(keys.length);
          for (const row of report.rows) {
            const tenantTotal = expected
              .filter((c) => !groupBy.includes('tenant') || c.tenant === row.tenant)
              .filter((c) => !groupBy.includes('model') || (c.model ?? '') === row.model)
              .filter(
                (c) =>
                  !groupBy.includes('scope') ||
                  `tenant:${c.tenant}${c.app ? `/app:${c.app}` : ''}` === row.scope,
              )
              .reduce((sum, c) => sum + c.amount, 0);
            expect(row.amount).toBe(tenantTotal);
          }
        },
      ),
    );
  });

  it('breaks a report into steps and writes CSV', () => {
    const log = new SpendLog();
    log.record({
      timeMs: T0 + 10,
      subject: { tenant: 'acme' },
      unit: 'USD_MICROCENTS',
      amount: 5,
      model: 'm,1',
    });
    log.record({ timeMs: T0 + HOUR + 10, subject: { tenant: 'acme' }, unit: 'USD_MICROCENTS', amount: 7 });
    const report = spendReport(log, {
      fromMs: T0,
      toMs: T0 + 2 * HOUR,
      groupBy: ['model'],
      interval: 'hour',
    });
    expect(spendReportCsv(report)).toBe(
      'start,model,unit,amount,count\n' +
        '2026-12-07T00:00:00.000Z,"m,1",USD_MICROCENTS,5,1\n' +
        '2026-12-07T01:00:00.000Z,,USD_MICROCENTS,7,1\n',
    );
  });

  it('keeps at most maxBuckets buckets, dropping the oldest', () => {
    const log = new SpendLog({ maxBuckets: 3 });
    for (let minute = 0; minute < 10; minute++) {
      log.record({ timeMs: T0 + minute * 60_000, subject: { tenant: 'acme' }, unit: 'TOKENS', amount: 1 });
    }
    expect([...log.buckets()].map((bucket) => (bucket.startMs - T0) / 60_000)).toEqual([7, 8, 9]);
    expect(() => new SpendLog({ bucketMs: 0 })).toThrow(InvalidConfigError);
  });

  it('reads the HTTP query and names the field it refuses', () => {
    expect(
      parseSpendReportQuery({
        from: '2026-12-07T00:00:00Z',
        to: String(T0 + HOUR),
        group_by: 'tenant,model',
      }),
    ).toEqual({
      fromMs: T0,
      toMs: T0 + HOUR,
      groupBy: ['tenant', 'model'],
    });
    const refused = (query: Record<string, unknown>) => {
      try {
        parseSpendReportQuery(query);
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidRequestError);
        return (error as InvalidRequestError).details?.field;
      }
      return undefined;
    };
    expect(refused({ from: 'yesterday' })).toBe('from');
    expect(refused({ to: ['1', '2'] })).toBe('to');
    expect(refused({ group_by: 'tenant,region' })).toBe('group_by');
    expect(refused({ unit: 'EUR' })).toBe('unit');
    expect(refused({ interval: 'week' })).toBe('interval');
    expect(() => spendReport(new SpendLog(), { fromMs: 2, toMs: 1 })).toThrow(/from is after to/);
  });
});

describe('recordSpend: a ledger that records its charges', () => {
  it('records commits (model from metrics) and events once, even when replayed', async () => {
    const log = new SpendLog();
    const ledger = recordSpend(
      createMemoryLedger({
        sweepIntervalMs: 0,
        ledgers: [{ scope: 'tenant:acme', unit: 'USD_MICROCENTS', allocated: 1_000 }],
      }),
      log,
    );
    const subject = { tenant: 'acme' };
    const action = { kind: 'llm.completion', name: 'm.alpha' };
    const held = await ledger.reserve({
      idempotencyKey: 'k1',
      subject,
      action,
      estimate: { unit: 'USD_MICROCENTS', amount: 100 },
    });
    const commit = {
      idempotencyKey: 'k1:c',
      actual: { unit: 'USD_MICROCENTS', amount: 60 },
      metrics: { modelVersion: 'm.beta' },
    } as const;
    await ledger.commit(held.reservationId ?? '', commit);
    await ledger.commit(held.reservationId ?? '', commit);
    const event = {
      idempotencyKey: 'e1',
      subject,
      action,
      actual: { unit: 'USD_MICROCENTS', amount: 5 },
    } as const;
    await ledger.createEvent(event);
    await ledger.createEvent(event);
    await new Promise((resolve) => setImmediate(resolve));
    const report = spendReport(log, { groupBy: ['model'] });
    expect(report.rows.map(({ model, amount, count }) => ({ model, amount, count }))).toEqual([
      { model: 'm.beta', amount: 60, count: 1 },
      { model: 'm.alpha', amount: 5, count: 1 },
    ]);
    expect((await ledger.getLedger('tenant:acme', 'USD_MICROCENTS'))?.spent).toBe(65);
  });

  it('wraps a ledger whose methods are frozen own properties (Object.create)', async () => {
    const log = new SpendLog();
    const inner = createMemoryLedger({
      sweepIntervalMs: 0,
      ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS', allocated: 100 }],
    });
    const ledger = recordSpend(Object.create(inner, { commit: { value: inner.commit.bind(inner) } }), log);
    const subject = { tenant: 'acme' };
    const action = { kind: 'tool', name: 'search' };
    const held = await ledger.reserve({
      idempotencyKey: 'k',
      subject,
      action,
      estimate: { unit: 'TOKENS', amount: 9 },
    });
    await ledger.commit(held.reservationId ?? '', {
      idempotencyKey: 'k:c',
      actual: { unit: 'TOKENS', amount: 7 },
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(spendReport(log).rows).toEqual([{ unit: 'TOKENS', amount: 7, count: 1 }]);
  });
});
