import type { FastifyInstance } from 'fastify';
import type { ApiKeyRegistry } from '../api-keys.ts';
import type { SharedWebhookSecurity } from '../webhooks/shared-webhook-security.ts';
import { parseWebhookSecurity } from '../webhooks/webhook-security.ts';
import { requireAdmin } from './admin.ts';

/**
 * GOV `getWebhookSecurityConfig` / `updateWebhookSecurityConfig`: the admin reads or replaces the URL
 * policy. A PUT applies at once to later subscription writes and delivery attempts of this server; on
 * Redis it is stored there and the other servers apply it within about a second (the config file's
 * `webhookSecurity` holds until an admin PUT one).
 */
export function registerWebhookSecurityRoutes(
  app: FastifyInstance,
  security: SharedWebhookSecurity,
  keys: ApiKeyRegistry,
  /** Resolves once the shared state is read (a server just started answers what Redis holds). */
  ready: () => Promise<void>,
): void {
  app.get('/v1/admin/config/webhook-security', async (request) => {
    requireAdmin(request, keys);
    await ready();
    return security.config;
  });
  app.put('/v1/admin/config/webhook-security', async (request) => {
    requireAdmin(request, keys);
    await ready();
    await security.replace(parseWebhookSecurity(request.body));
    return security.config;
  });
}
