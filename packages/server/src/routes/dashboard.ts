import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { ApiKeyRegistry } from '../api-keys.ts';
import { readerOf } from '../observe/admin-key.ts';
import { type DashboardSource, dashboardState } from '../observe/dashboard-state.ts';

/** The page's files: ours from `dashboard/`, uPlot from its package (served locally: no CDN). */
function assets(): Record<string, { type: string; body: Buffer }> {
  const here = dirname(fileURLToPath(import.meta.url));
  // src/routes/ (source) or dist/ (build): the dashboard folder sits at the package root.
  const folder = [join(here, '../../dashboard'), join(here, '../dashboard')].find((path) => {
    try {
      readFileSync(join(path, 'index.html'));
      return true;
    } catch {
      return false;
    }
  });
  if (folder === undefined)
    throw new Error('cycles-guard-server: the dashboard folder is missing from the package');
  const require = createRequire(import.meta.url);
  const file = (path: string, type: string) => ({ type, body: readFileSync(path) });
  return {
    '/dashboard': file(join(folder, 'index.html'), 'text/html; charset=utf-8'),
    '/dashboard/dashboard.js': file(join(folder, 'dashboard.js'), 'text/javascript; charset=utf-8'),
    '/dashboard/dashboard.css': file(join(folder, 'dashboard.css'), 'text/css; charset=utf-8'),
    '/dashboard/uplot.js': file(
      require.resolve('uplot/dist/uPlot.iife.min.js'),
      'text/javascript; charset=utf-8',
    ),
    '/dashboard/uplot.css': file(require.resolve('uplot/dist/uPlot.min.css'), 'text/css; charset=utf-8'),
  };
}

/**
 * `GET /dashboard`: the live budget dashboard (static page; it asks for the admin key) and its one
 * read-only data route, `GET /v1/x-cycles-guard/dashboard/state` (admin key), polled every 2 s.
 */
export function registerDashboardRoutes(
  app: FastifyInstance,
  source: DashboardSource,
  keys: ApiKeyRegistry,
): void {
  for (const [path, asset] of Object.entries(assets())) {
    app.get(path, async (_request, reply) =>
      reply.code(200).header('Content-Type', asset.type).header('Cache-Control', 'no-cache').send(asset.body),
    );
  }
  app.get('/v1/x-cycles-guard/dashboard/state', async (request, reply) => {
    readerOf(request, keys, false);
    return reply
      .code(200)
      .header('Cache-Control', 'no-store')
      .send(await dashboardState(source));
  });
}
