import type { CyclesServer } from '../../src/server.ts';
import { type GovReply, govFetch } from './gov-fetch.ts';

/**
 * A tenant's JSON requests (API key `key`) to any server. What the GOV spec finds wrong with a reply
 * of the webhook and event routes goes to `violations`, for the test to assert empty at its end.
 */
export function tenantSender(key: string, violations: string[]) {
  return async (
    server: CyclesServer,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: GovReply['body'] }> => {
    const reply = await govFetch(server.url, method, path, { key }, body);
    if (path.startsWith('/v1/webhooks') || path.startsWith('/v1/events')) violations.push(...reply.problems);
    return { status: reply.status, body: reply.body ?? {} };
  };
}
