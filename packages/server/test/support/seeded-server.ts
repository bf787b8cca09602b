import { type Cycles, createCycles, createHttpAuthority } from '@cycles-guard/core';
import { createAdminClient } from '../../src/admin/client.ts';
import { type CyclesServer, startCyclesServer } from '../../src/server.ts';
import { ADMIN_KEY } from './http-ledger.ts';

export const MODEL = 'anthropic.claude-3-5-haiku-20241022-v1:0';
export const OTHER_MODEL = 'amazon.nova-micro-v1:0';
/** $0.50 for acme (and its chat app), $0.02 for globex: globex runs into its wall quickly. */
export const ACME_KEY = 'acme-key-0123456789';
export const GLOBEX_KEY = 'globex-key-0123456789';

export interface SeededServer {
  server: CyclesServer;
  admin: ReturnType<typeof createAdminClient>;
  /** A Cycles instance per tenant, reaching the server over HTTP with the tenant's key. */
  acme: Cycles;
  globex: Cycles;
  close(): Promise<void>;
}

/** A server with budgets for two tenants (one windowed by day) and a Cycles client per tenant. */
export async function startSeededServer(): Promise<SeededServer> {
  const server = await startCyclesServer({
    port: 0,
    adminApiKey: ADMIN_KEY,
    logLevel: 'silent',
    apiKeys: { [ACME_KEY]: 'acme', [GLOBEX_KEY]: 'globex' },
    ledgers: [
      { scope: 'tenant:acme', unit: 'USD_MICROCENTS', allocated: 50_000_000, window: { period: 'day' } },
      { scope: 'tenant:acme/app:chat', unit: 'USD_MICROCENTS', allocated: 50_000_000 },
      { scope: 'tenant:globex', unit: 'USD_MICROCENTS', allocated: 2_000_000 },
    ],
  });
  const client = (apiKey: string, tenant: string) =>
    createCycles({
      authority: createHttpAuthority({ baseUrl: server.url, apiKey, retries: 0 }),
      subject: { tenant },
      heartbeat: false,
      outbox: { enabled: false },
    });
  const acme = client(ACME_KEY, 'acme');
  const globex = client(GLOBEX_KEY, 'globex');
  return {
    server,
    admin: createAdminClient({ baseUrl: server.url, adminApiKey: ADMIN_KEY }),
    acme,
    globex,
    async close() {
      await Promise.all([acme.close(), globex.close()]);
      await server.close();
    },
  };
}

/** One LLM call that spends: begins (reserve), then commits `outputTokens` of output. */
export async function spend(cycles: Cycles, model: string, outputTokens: number, subject?: { app: string }) {
  const call = await cycles.beginLlmCall({
    model,
    inputTokens: 1000,
    maxOutputTokens: 2000,
    ...(subject === undefined ? {} : { subject }),
  });
  await call.commit({ inputTokens: 1000, outputTokens: Math.min(outputTokens, call.maxOutputTokens) });
  return call;
}
