import { registerLedgerScheme } from '@cycles-guard/core/ledger-kit';
import { redisIdentity } from './outbox.ts';
import { createRedisLedger } from './redis-ledger.ts';

// Importing the package registers the Redis ledger for redis:// and rediss:// URLs, so core's
// `cyclesFromEnv()` selects it from CYCLES_REDIS_URL without knowing this package.
registerLedgerScheme(['redis:', 'rediss:'], {
  create: ({ url, keyPrefix }) => createRedisLedger(keyPrefix === undefined ? { url } : { url, keyPrefix }),
  identity: ({ url, keyPrefix }) => redisIdentity(url, keyPrefix ?? 'cycles:'),
});
