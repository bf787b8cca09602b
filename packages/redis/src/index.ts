// @cycles-guard/redis public API.

export { createRedisLedger, type RedisLedger, type RedisLedgerOptions } from './redis-ledger.ts';
