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
