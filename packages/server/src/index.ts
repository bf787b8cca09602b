// @cycles-guard/server public API.

export { type AdminClient, type AdminClientOptions, createAdminClient } from './admin/client.ts';
export { ApiKeyRegistry } from './api-keys.ts';
export {
  applyServerEnv,
  type LedgerStoreConfig,
  loadServerConfig,
  parseServerConfig,
  type ServerConfig,
} from './config.ts';
export { seedLedger } from './ledger-store.ts';
export { type ActivityItem, RecentActivity } from './observe/recent-activity.ts';
export { buildApp, type CyclesServer, type StartServerOptions, startCyclesServer } from './server.ts';
