import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CyclesServer, startCyclesServer } from '../src/server.ts';
import { type CapturingReceiver, startCapturingReceiver } from './support/capturing-receiver.ts';
import { govFetch } from './support/gov-fetch.ts';
import { ADMIN_KEY } from './support/http-ledger.ts';
import { LOOPBACK_WEBHOOKS } from './support/loopback-webhooks.ts';
import { specSignatureValid } from './support/spec-signature.ts';

// GOV testWebhookSubscription and testTenantWebhook: one signed `system.webhook_test` POST to the
// subscription's URL, answered with the endpoint's status and timing. The receiver verifies the
// signature as the spec tells receivers to: HMAC-SHA256 over the raw body, constant-time compare.

const ACME_KEY = 'acme-key-probe-0001';
const OTHER_KEY = 'other-key-probe-001';
let server: CyclesServer;
const receivers: CapturingReceiver[] = [];
const violations: string[] = [];

beforeEach(async () => {
  server = await startCyclesServer({
    port: 0,
    adminApiKey: ADMIN_KEY,
    apiKeys: { [ACME_KEY]: 'acme', [OTHER_KEY]: 'other' },
    ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS', allocated: 1000 }],
    logLevel: 'silent',
    webhookSecurity: LOOPBACK_WEBHOOKS,
  });
});

afterEach(async () => {
  await server.close();
  for (const receiver of receivers.splice(0)) await receiver.close();
  expect(violations.splice(0), 'GOV contract violations').toEqual([]);
});

// biome-ignore lint/suspicious/noExplicitAny: parsed JSON bodies, GOV-checked by send()
type Json = any;

async function send(
  method: string,
  path: string,
  auth: { admin: true } | { key: string },
  body?: unknown,
): Promise<{ status: number; body: Json; checked?: string }> {
  const reply = await govFetch(server.url, method, path, auth, body);
  violations.push(...reply.problems);
  return { status: reply.status, body: reply.body ?? {}, ...(reply.id ? { checked: reply.id } : {}) };
}

async function receiver(status: number): Promise<CapturingReceiver> {
  const endpoint = await startCapturingReceiver(() => status);
  receivers.push(endpoint);
  return endpoint;
}

async function subscribe(url: string): Promise<{ id: string; secret: string }> {
  const created = await send(
    'POST',
    '/v1/webhooks',
    { key: ACME_KEY },
    { url, event_types: ['budget.exhausted'] },
  );
  expect(created.status).toBe(201);
  return { id: created.body.subscription.subscription_id, secret: created.body.signing_secret };
}

describe('the webhook test probe', () => {
  it('sends one signed system.webhook_test to a tenant’s own endpoint and answers the result', async () => {
    const { url, received } = await receiver(204);
    const { id, secret } = await subscribe(url);
    const probed = await send('POST', `/v1/webhooks/${id}/test`, { key: ACME_KEY });
    expect(probed.checked).toBe('testTenantWebhook');
    expect(probed.status).toBe(200);
    expect(probed.body).toMatchObject({ success: true, response_status: 204 });
    expect(probed.body.response_time_ms).toBeGreaterThanOrEqual(0);
    expect(received).toHaveLength(1);
    const [delivery] = received;
    // The receiving side: the signature over the raw bytes, then the parsed event.
    expect(specSignatureValid(secret, delivery!.raw, delivery!.headers['x-cycles-signature'])).toBe(true);
    expect(
      specSignatureValid('whsec_not-the-secret', delivery!.raw, delivery!.headers['x-cycles-signature']),
    ).toBe(false);
    const event = JSON.parse(delivery!.raw.toString());
    expect(event).toMatchObject({
      event_id: probed.body.event_id,
      event_type: 'system.webhook_test',
      category: 'system',
      tenant_id: 'acme',
      data: { component: 'webhook_dispatcher', details: { subscription_id: id } },
    });
    expect(delivery!.headers['x-cycles-event-type']).toBe('system.webhook_test');
    expect(delivery!.headers['x-cycles-event-id']).toBe(event.event_id);
    expect(delivery!.headers.traceparent).toMatch(new RegExp(`^00-${event.trace_id}-[0-9a-f]{16}-01$`));
    // Recorded as a delivery, as usual.
    const listed = await send('GET', `/v1/webhooks/${id}/deliveries`, { key: ACME_KEY });
    expect(listed.body.deliveries).toEqual([
      expect.objectContaining({
        event_id: event.event_id,
        event_type: 'system.webhook_test',
        status: 'SUCCESS',
        attempts: 1,
      }),
    ]);
  });

  it('reports a failing endpoint without retrying, counting a failure or changing the status', async () => {
    const { url, received } = await receiver(503);
    const { id } = await subscribe(url);
    expect((await send('PATCH', `/v1/webhooks/${id}`, { key: ACME_KEY }, { status: 'PAUSED' })).status).toBe(
      200,
    );
    for (let i = 0; i < 3; i++) {
      const probed = await send('POST', `/v1/admin/webhooks/${id}/test`, { admin: true });
      expect(probed.checked).toBe('testWebhookSubscription');
      expect(probed.body).toMatchObject({ success: false, response_status: 503, error_message: 'HTTP 503' });
    }
    await server.webhooks!.idle();
    expect(received).toHaveLength(3);
    const after = await send('GET', `/v1/admin/webhooks/${id}`, { admin: true });
    expect(after.body).toMatchObject({ status: 'PAUSED', consecutive_failures: 0 });
    const listed = await send('GET', `/v1/admin/webhooks/${id}/deliveries?status=FAILED`, { admin: true });
    expect(listed.body.deliveries).toHaveLength(3);
  });

  it('goes through the URL policy: a blocked address is reported, not contacted', async () => {
    const { url, received } = await receiver(204);
    const { id } = await subscribe(url);
    await send('PUT', '/v1/admin/config/webhook-security', { admin: true }, { allow_http: true });
    const probed = await send('POST', `/v1/webhooks/${id}/test`, { key: ACME_KEY });
    expect(probed.body.success).toBe(false);
    expect(probed.body.error_message).toContain('inside blocked range 127.0.0.0/8');
    expect(probed.body).not.toHaveProperty('response_status');
    expect(received).toEqual([]);
  });

  it('is another tenant’s 404, and the admin’s on either path', async () => {
    const { url, received } = await receiver(200);
    const { id } = await subscribe(url);
    expect((await send('POST', `/v1/webhooks/${id}/test`, { key: OTHER_KEY })).status).toBe(404);
    expect((await send('POST', `/v1/webhooks/whsub_nope/test`, { key: ACME_KEY })).status).toBe(404);
    expect((await send('POST', `/v1/admin/webhooks/${id}/test`, { key: ACME_KEY })).status).toBe(401);
    expect((await send('POST', `/v1/webhooks/${id}/test`, { admin: true })).body.success).toBe(true);
    expect(received).toHaveLength(1);
  });
});
