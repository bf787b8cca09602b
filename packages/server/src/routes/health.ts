import type { FastifyInstance, FastifyReply } from 'fastify';

/**
 * Paths answered while the server is closing (everything else gets 503): our own `/health` and the
 * Spring Boot actuator paths of the reference server, which the official Cycles clients and Kubernetes
 * probes call.
 */
export const HEALTH_PATHS: ReadonlySet<string> = new Set([
  '/health',
  '/actuator/health',
  '/actuator/health/readiness',
  '/actuator/health/liveness',
]);

/**
 * `/health` (`{status: ok|closing, ledger}`) and the actuator trio (`{status: UP|OUT_OF_SERVICE}`). While
 * closing, readiness says OUT_OF_SERVICE (503) so a balancer drains the instance; liveness stays UP
 * (the process is fine and must not be restarted mid-drain).
 */
export function registerHealthRoutes(app: FastifyInstance, closing: () => boolean, ledgerType: string): void {
  app.get('/health', async (_request, reply) =>
    reply.code(closing() ? 503 : 200).send({ status: closing() ? 'closing' : 'ok', ledger: ledgerType }),
  );
  const readiness = async (_request: unknown, reply: FastifyReply) =>
    reply.code(closing() ? 503 : 200).send({ status: closing() ? 'OUT_OF_SERVICE' : 'UP' });
  app.get('/actuator/health', readiness);
  app.get('/actuator/health/readiness', readiness);
  app.get('/actuator/health/liveness', async () => ({ status: 'UP' }));
}
