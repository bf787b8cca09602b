import { InvalidRequestError } from '@cycles-guard/core';
import { parseSpendReportQuery } from '@cycles-guard/core/ledger-kit';
import { spendReport, spendReportCsv } from '@cycles-guard/core/reports';
import type { FastifyInstance } from 'fastify';
import type { ApiKeyRegistry } from '../api-keys.ts';
import { readerOf } from '../observe/admin-key.ts';
import type { SpendStore } from '../observe/spend-store.ts';

const PARAMETERS = ['from', 'to', 'group_by', 'unit', 'interval', 'format'];

function wantsCsv(format: unknown, accept: string | undefined): boolean {
  if (format !== undefined && format !== 'csv' && format !== 'json') {
    throw new InvalidRequestError('format must be csv or json', { details: { field: 'format' } });
  }
  return format === 'csv' || (format === undefined && /\btext\/csv\b/.test(accept ?? ''));
}

/**
 * `GET /v1/x-cycles-guard/reports/spend?from&to&group_by=tenant,model,scope[&unit&interval&format=csv]`:
 * spend from the charges confirmed by this server, or by every server on the same Redis ledger (JSON,
 * or CSV via `format=csv` / `Accept: text/csv`).
 * The admin key sees every tenant; a tenant key sees its own.
 */
export function registerReportRoutes(app: FastifyInstance, spend: SpendStore, keys: ApiKeyRegistry): void {
  app.get('/v1/x-cycles-guard/reports/spend', async (request, reply) => {
    const reader = readerOf(request, keys, true);
    const query = request.query as Record<string, unknown>;
    for (const name of Object.keys(query)) {
      if (!PARAMETERS.includes(name)) {
        throw new InvalidRequestError(
          `${name.slice(0, 40)} is not a parameter of the spend report: use ${PARAMETERS.join(', ')}`,
          {
            details: { field: name.slice(0, 40) },
          },
        );
      }
    }
    const csv = wantsCsv(query.format, request.headers.accept);
    const nowMs = Date.now();
    const parsed = parseSpendReportQuery(query);
    const toMs = parsed.toMs ?? nowMs;
    const fromMs = parsed.fromMs ?? toMs - 86_400_000;
    const tenant = reader.tenant;
    const report = spendReport(
      await spend.buckets(fromMs, toMs, tenant),
      { ...parsed, fromMs, toMs, ...(tenant === undefined ? {} : { tenant }) },
      nowMs,
    );
    if (csv)
      return reply.code(200).header('Content-Type', 'text/csv; charset=utf-8').send(spendReportCsv(report));
    return reply.code(200).send({
      from: new Date(report.fromMs).toISOString(),
      to: new Date(report.toMs).toISOString(),
      group_by: report.groupBy,
      ...(report.interval === undefined ? {} : { interval: report.interval }),
      rows: report.rows.map((row) => ({
        ...(row.startMs === undefined ? {} : { start: new Date(row.startMs).toISOString() }),
        ...(row.tenant === undefined ? {} : { tenant: row.tenant }),
        ...(row.model === undefined ? {} : { model: row.model }),
        ...(row.scope === undefined ? {} : { scope: row.scope }),
        unit: row.unit,
        amount: row.amount,
        count: row.count,
      })),
    });
  });
}
