import { type CyclesServer, type StartServerOptions, startCyclesServer } from '../../src/server.ts';
import { ADMIN_KEY } from './http-ledger.ts';
import { LOOPBACK_WEBHOOKS } from './loopback-webhooks.ts';

/**
 * Two servers on one Redis ledger (a redis-server or a cluster), tenant `acme` behind `apiKey`: the
 * tenant holds 1e9 tokens and each agent 100 of its own (a template), so a reserve can take a fresh
 * agent's budget to any utilization and raise its threshold events on either server.
 */
export async function startAgentBudgetServers(
  apiKey: string,
  ledger: StartServerOptions['ledger'],
): Promise<[CyclesServer, CyclesServer]> {
  const config: StartServerOptions = {
    port: 0,
    adminApiKey: ADMIN_KEY,
    apiKeys: { [apiKey]: 'acme' },
    ledger,
    templates: [{ pattern: 'tenant:acme/agent:*', unit: 'TOKENS', allocated: 100 }],
    ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS', allocated: 1e9 }],
    logLevel: 'silent',
    webhookSecurity: LOOPBACK_WEBHOOKS,
  };
  return [await startCyclesServer(config), await startCyclesServer(config)];
}
