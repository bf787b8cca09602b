export { recordSpend } from './record-spend.ts';
export { type SpendBucket, SpendLog, type SpendLogOptions, type SpendRecord } from './spend-log.ts';
export {
  parseSpendReportQuery,
  SPEND_GROUPS,
  SPEND_INTERVALS,
  type SpendBucketSource,
  type SpendGroup,
  type SpendInterval,
  type SpendReport,
  type SpendReportQuery,
  type SpendReportRow,
  spendReport,
  spendReportCsv,
} from './spend-report.ts';
