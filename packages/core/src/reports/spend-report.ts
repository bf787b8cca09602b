import { UNITS, type Unit } from '../protocol/enums.ts';
import { invalid } from '../protocol/errors.ts';
import type { SpendBucket } from './spend-log.ts';

/** What a spend report can be grouped by. */
export const SPEND_GROUPS = ['tenant', 'model', 'scope'] as const;
export type SpendGroup = (typeof SPEND_GROUPS)[number];

/** Time steps a report can be broken into (for charts). */
export const SPEND_INTERVALS = { minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const;
export type SpendInterval = keyof typeof SPEND_INTERVALS;

export interface SpendReportQuery {
  /** Start, inclusive (ms since the epoch). @default `toMs` − 24 h */
  fromMs?: number;
  /** End, exclusive. @default now */
  toMs?: number;
  /** @default [] (one row per unit) */
  groupBy?: readonly SpendGroup[];
  /** Only this unit. @default every unit */
  unit?: Unit;
  /** One row per step of this size (`startMs` set), for a chart. @default none: one row per group */
  interval?: SpendInterval;
  /** Only this tenant (a tenant's own report). */
  tenant?: string;
}

export interface SpendReportRow {
  /** Start of the step (with `interval`). */
  startMs?: number;
  tenant?: string;
  model?: string;
  scope?: string;
  unit: Unit;
  amount: number;
  /** Charges summed. */
  count: number;
}

export interface SpendReport {
  fromMs: number;
  toMs: number;
  groupBy: SpendGroup[];
  interval?: SpendInterval;
  /** Largest amount first (by time first with `interval`). */
  rows: SpendReportRow[];
}

const DAY_MS = 86_400_000;

/** Where a report reads charges: a `SpendLog`, or buckets a shared store read back. */
export interface SpendBucketSource {
  buckets(): Iterable<SpendBucket>;
}

/**
 * Sums the log's charges between `fromMs` and `toMs` per group. Charges are bucketed (a minute by
 * default), so a bound falls on the bucket it is in: a bucket counts when it starts inside the range.
 */
export function spendReport(
  log: SpendBucketSource,
  query: SpendReportQuery = {},
  nowMs = Date.now(),
): SpendReport {
  const toMs = query.toMs ?? nowMs;
  const fromMs = query.fromMs ?? toMs - DAY_MS;
  if (fromMs > toMs) throw invalid('from', 'is after to', 'give a from earlier than to');
  const groupBy = [...new Set(query.groupBy ?? [])];
  const step = query.interval === undefined ? undefined : SPEND_INTERVALS[query.interval];
  const rows = new Map<string, SpendReportRow>();
  for (const bucket of log.buckets()) {
    if (bucket.startMs < fromMs || bucket.startMs >= toMs) continue;
    if (query.unit !== undefined && bucket.unit !== query.unit) continue;
    if (query.tenant !== undefined && bucket.tenant !== query.tenant) continue;
    const row: SpendReportRow = { unit: bucket.unit, amount: 0, count: 0 };
    if (step !== undefined) row.startMs = bucket.startMs - (bucket.startMs % step);
    for (const group of groupBy) row[group] = bucket[group];
    const key = `${row.startMs}\u0000${row.unit}\u0000${row.tenant}\u0000${row.model}\u0000${row.scope}`;
    const found = rows.get(key) ?? row;
    found.amount += bucket.amount;
    found.count += bucket.count;
    rows.set(key, found);
  }
  const sorted = [...rows.values()].sort(
    (a, b) => (a.startMs ?? 0) - (b.startMs ?? 0) || b.amount - a.amount,
  );
  return {
    fromMs,
    toMs,
    groupBy,
    ...(query.interval === undefined ? {} : { interval: query.interval }),
    rows: sorted,
  };
}

function timeOf(field: string, value: unknown): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw invalid(field, 'must be given once');
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isSafeInteger(ms)) {
    throw invalid(
      field,
      `is not a time: ${value.slice(0, 40)}`,
      'give ISO-8601 (2026-12-07T00:00:00Z) or ms since the epoch',
    );
  }
  return ms;
}

/** Reads `from`, `to`, `group_by`, `unit` and `interval` of a query string (the HTTP route's). */
export function parseSpendReportQuery(query: Record<string, unknown>): SpendReportQuery {
  const result: SpendReportQuery = {};
  const fromMs = timeOf('from', query.from);
  const toMs = timeOf('to', query.to);
  if (fromMs !== undefined) result.fromMs = fromMs;
  if (toMs !== undefined) result.toMs = toMs;
  const groupBy = query.group_by;
  if (groupBy !== undefined && groupBy !== '') {
    if (typeof groupBy !== 'string')
      throw invalid('group_by', 'must be given once', 'use group_by=tenant,model');
    const groups = groupBy.split(',').map((group) => group.trim());
    for (const group of groups) {
      if (!(SPEND_GROUPS as readonly string[]).includes(group)) {
        throw invalid(
          'group_by',
          `has an unknown group ${JSON.stringify(group.slice(0, 40))}`,
          `use ${SPEND_GROUPS.join(', ')}`,
        );
      }
    }
    result.groupBy = groups as SpendGroup[];
  }
  const unit = query.unit;
  if (unit !== undefined) {
    if (!UNITS.includes(unit as Unit))
      throw invalid('unit', 'is not a unit', `use one of ${UNITS.join(', ')}`);
    result.unit = unit as Unit;
  }
  const interval = query.interval;
  if (interval !== undefined) {
    if (typeof interval !== 'string' || !(interval in SPEND_INTERVALS)) {
      throw invalid(
        'interval',
        'is not an interval',
        `use one of ${Object.keys(SPEND_INTERVALS).join(', ')}`,
      );
    }
    result.interval = interval as SpendInterval;
  }
  return result;
}

function csvCell(value: string | number): string {
  const text = String(value);
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** The report as CSV: one header line, then a line per row (times in ISO-8601). */
export function spendReportCsv(report: SpendReport): string {
  const columns = [
    ...(report.interval === undefined ? [] : ['start']),
    ...report.groupBy,
    'unit',
    'amount',
    'count',
  ];
  const lines = [columns.join(',')];
  for (const row of report.rows) {
    const cells: (string | number)[] = [];
    if (report.interval !== undefined) cells.push(new Date(row.startMs ?? 0).toISOString());
    for (const group of report.groupBy) cells.push(row[group] ?? '');
    cells.push(row.unit, row.amount, row.count);
    lines.push(cells.map(csvCell).join(','));
  }
  return `${lines.join('\n')}\n`;
}
