import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { checkIdentity } from '@cycles-guard/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisLedger } from '../src/index.ts';
import { type RedisServer, startRedisServer } from '../src/testing/index.ts';

// Four Node processes × 250 concurrent reserve → commit loops on one tenant budget sized for a known
// number of worst cases: the budget must hold across processes exactly as within one.

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const repositoryRoot = join(here, '../../..');
const PROCESSES = 4;
const LOOPS = 250;
const ROUNDS = 3;
const WORST_CASE = 100;
const TENANT_WORST_CASES = 1200;

let server: RedisServer;

beforeAll(async () => {
  server = await startRedisServer();
});

afterAll(async () => {
  await server?.remove();
});

describe('many processes, one budget', () => {
  it(`${PROCESSES} processes × ${LOOPS} loops never overspend any scope, and release every hold`, async () => {
    const prefix = 'multi-process:';
    const admin = createRedisLedger({ url: server.url, keyPrefix: prefix, sweepIntervalMs: 0 });
    const tenantBudget = TENANT_WORST_CASES * WORST_CASE;
    await admin.createLedger({ scope: 'tenant:acme', unit: 'TOKENS', allocated: tenantBudget });
    // Each workspace alone could take 70 % of the tenant: the tenant is the binding constraint.
    for (const workspace of ['w0', 'w1']) {
      await admin.createLedger({
        scope: `tenant:acme/workspace:${workspace}`,
        unit: 'TOKENS',
        allocated: tenantBudget * 0.7,
      });
    }

    const workers = Array.from({ length: PROCESSES }, (_, worker) =>
      run(
        process.execPath,
        [
          '--conditions=@cycles-guard/source',
          '--import',
          'tsx',
          join(here, 'support/reserve-commit-worker.ts'),
          server.url,
          prefix,
          String(worker),
          String(LOOPS),
          String(ROUNDS),
          String(WORST_CASE),
        ],
        { cwd: repositoryRoot, maxBuffer: 1 << 20 },
      ),
    );
    const results = (await Promise.all(workers)).map(
      ({ stdout }) =>
        JSON.parse(stdout.trim().split('\n').pop()!) as {
          charged: number;
          denied: number;
          committed: number;
        },
    );

    const charged = results.reduce((sum, result) => sum + result.charged, 0);
    const denied = results.reduce((sum, result) => sum + result.denied, 0);
    const committed = results.reduce((sum, result) => sum + result.committed, 0);
    expect(committed + denied).toBe(PROCESSES * LOOPS * ROUNDS);
    // Demand (3,000 worst cases) is well over the budget (1,200), so the budget was contended to the end.
    expect(denied).toBeGreaterThan(0);

    const states = await checkIdentity(admin);
    for (const state of states) {
      expect(state.spent, state.scope).toBeLessThanOrEqual(state.allocated);
      expect(state.reserved, state.scope).toBe(0);
      expect(state.debt, state.scope).toBe(0);
    }
    const tenant = states.find((state) => state.scope === 'tenant:acme')!;
    expect(tenant.spent).toBe(charged);
    const workspaces = states.filter((state) => state.scope.includes('workspace'));
    expect(workspaces.reduce((sum, state) => sum + state.spent, 0)).toBe(charged);
    expect(await admin.listReservations({ tenant: 'acme', status: 'ACTIVE', limit: 1 })).toMatchObject({
      reservations: [],
    });
    await admin.close();
  }, 180_000);
});
