// @cycles-guard/redis public API.

export { createRedisOutbox, type RedisOutboxOptions } from './outbox.ts';
export { createRedisLedger, type RedisLedger, type RedisLedgerOptions } from './redis-ledger.ts';
export { whenConnected } from './when-connected.ts';
