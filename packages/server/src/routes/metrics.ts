import type { FastifyInstance } from 'fastify';
import type { ApiKeyRegistry } from '../api-keys.ts';
import { readerOf } from '../observe/admin-key.ts';
import type { ServerMetrics } from '../observe/server-metrics.ts';

/**
 * `GET /metrics`: Prometheus text format (admin key, as `Authorization: Bearer` for a scrape config).
 * Every answered request is counted by operation: method and route pattern, so ids never become labels.
 */
export function registerMetricsRoutes(
  app: FastifyInstance,
  metrics: ServerMetrics,
  keys: ApiKeyRegistry,
): void {
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url;
    const operation = route === undefined ? 'unmatched' : `${request.method} ${route}`;
    metrics.request(operation, reply.statusCode, reply.elapsedTime / 1000);
  });
  app.get('/metrics', async (request, reply) => {
    readerOf(request, keys, false);
    const body = await metrics.registry.metrics();
    return reply.code(200).header('Content-Type', metrics.registry.contentType).send(body);
  });
}
