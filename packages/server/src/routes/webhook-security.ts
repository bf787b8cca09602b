import type { FastifyInstance } from 'fastify';
import type { ApiKeyRegistry } from '../api-keys.ts';
import type { WebhookUrlGuard } from '../webhooks/url-guard.ts';
import { parseWebhookSecurity } from '../webhooks/webhook-security.ts';
import { requireAdmin } from './admin.ts';

/**
 * GOV `getWebhookSecurityConfig` / `updateWebhookSecurityConfig`: the admin reads or replaces the URL
 * policy. A PUT applies at once to later subscription writes and to every later delivery attempt; it is
 * held by this server process (the config file's `webhookSecurity` is the value at start).
 */
export function registerWebhookSecurityRoutes(
  app: FastifyInstance,
  guard: WebhookUrlGuard,
  keys: ApiKeyRegistry,
): void {
  app.get('/v1/admin/config/webhook-security', async (request) => {
    requireAdmin(request, keys);
    return guard.config;
  });
  app.put('/v1/admin/config/webhook-security', async (request) => {
    requireAdmin(request, keys);
    guard.replace(parseWebhookSecurity(request.body));
    return guard.config;
  });
}
