import { afterAll, beforeAll } from 'vitest';
import type { CyclesServer, StartServerOptions } from '../../src/server.ts';
import { startCyclesServer } from '../../src/server.ts';
import { ADMIN_KEY } from './http-ledger.ts';

/**
 * `count` servers for a race test: on the memory ledger (one process's own), or all on one Redis under
 * `keyPrefix`, so that requests through different servers race on the same budgets. `extra` options go to
 * every server.
 */
export async function startRaceServers(
  kind: 'memory' | 'redis',
  count: number,
  redis: { url: string } | undefined,
  keyPrefix: string,
  extra: Partial<StartServerOptions> = {},
): Promise<CyclesServer[]> {
  const servers: CyclesServer[] = [];
  for (let i = 0; i < count; i++) {
    servers.push(
      await startCyclesServer({
        port: 0,
        adminApiKey: ADMIN_KEY,
        ...(kind === 'redis' ? { ledger: { type: 'redis' as const, url: redis!.url, keyPrefix } } : {}),
        logLevel: 'silent',
        ...extra,
      }),
    );
  }
  return servers;
}

/**
 * `startRaceServers` for one describe block: started before its tests (Redis from `redis()`, read then),
 * closed after them. The array is filled in place.
 */
export function useRaceServers(
  kind: 'memory' | 'redis',
  count: number,
  redis: () => { url: string },
  keyPrefix: string,
  extra: Partial<StartServerOptions> = {},
): CyclesServer[] {
  const servers: CyclesServer[] = [];
  beforeAll(async () => {
    servers.push(
      ...(await startRaceServers(kind, count, kind === 'redis' ? redis() : undefined, keyPrefix, extra)),
    );
  });
  afterAll(async () => {
    for (const server of servers) await server.close();
  });
  return servers;
}

/**
 * One JSON request to a race server: with the admin key, or with tenant `key` when given. The body is
 * parsed (`{}` when empty); race tests look at status and body only.
 */
export async function raceCall(
  server: CyclesServer,
  method: string,
  path: string,
  body?: unknown,
  key?: string,
  // biome-ignore lint/suspicious/noExplicitAny: parsed JSON bodies, read field by field by the tests
): Promise<{ status: number; body: any }> {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      'Content-Type': 'application/json',
      ...(key === undefined ? { 'X-Admin-API-Key': ADMIN_KEY } : { 'X-Cycles-API-Key': key }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? {} : JSON.parse(text) };
}
