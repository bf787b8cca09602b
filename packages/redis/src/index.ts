// @cycles-guard/redis public API.

import './register-scheme.ts';

export { GLOBAL_TAG, partitionPrefix, tenantTag } from './keys.ts';
export { createRedisOutbox, type RedisOutboxOptions } from './outbox.ts';
export { createRedisLedger, type RedisLedger, type RedisLedgerOptions } from './redis-ledger.ts';
export { whenConnected } from './when-connected.ts';
