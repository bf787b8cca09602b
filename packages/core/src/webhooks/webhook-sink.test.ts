import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryLedger } from '../ledger/memory-ledger.ts';
import { retryDelayMs, retryPolicyOf } from './retry-policy.ts';
import { signWebhookBody, verifyWebhookSignature } from './signature.ts';
import { createWebhookSink } from './webhook-sink.ts';

// The embedded 80 % alert end to end: a memory ledger's events posted to a real HTTP receiver, which
// verifies each signature the way the spec tells receivers to (its own HMAC over the raw body, compared
// in constant time), not with our helper.

interface Received {
  headers: IncomingHttpHeaders;
  raw: Buffer;
}

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
});

async function receiver(statuses: number[] = []): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ headers: request.headers, raw: Buffer.concat(chunks) });
      response.statusCode = statuses.shift() ?? 204;
      response.end();
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received };
}

/** What a receiver does: HMAC-SHA256 of the raw bytes with the secret, constant-time compare. */
function receiverAccepts(secret: string, raw: Buffer, header: string | undefined): boolean {
  const expected = Buffer.from(
    `sha256=${createHmac('sha256', Buffer.from(secret, 'utf8')).update(raw).digest('hex')}`,
  );
  const given = Buffer.from(header ?? '');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

describe('webhook sink', () => {
  it('posts the 80 % alert of an embedded ledger, signed, with the spec headers', async () => {
    const { url, received } = await receiver();
    const sink = createWebhookSink({
      url,
      secret: 'whsec_test',
      allowHttp: true,
      eventTypes: ['budget.threshold_crossed'],
      headers: { Authorization: 'Bearer slack' },
    });
    const ledger = createMemoryLedger({
      sweepIntervalMs: 0,
      ledgers: [{ scope: 'tenant:acme', unit: 'USD_MICROCENTS', allocated: 1000 }],
      events: { onEvent: sink.send },
    });
    const hold = await ledger.reserve(
      {
        idempotencyKey: 'k',
        subject: { tenant: 'acme' },
        action: { kind: 'llm', name: 'x' },
        estimate: { unit: 'USD_MICROCENTS', amount: 850 },
      },
      { traceId: 'b'.repeat(32), requestId: 'r1' },
    );
    expect(hold.decision).toBe('ALLOW');
    await sink.idle();
    expect(received).toHaveLength(1);
    const [delivery] = received;
    expect(
      receiverAccepts('whsec_test', delivery!.raw, delivery!.headers['x-cycles-signature'] as string),
    ).toBe(true);
    expect(
      receiverAccepts('other-secret', delivery!.raw, delivery!.headers['x-cycles-signature'] as string),
    ).toBe(false);
    const event = JSON.parse(delivery!.raw.toString('utf8'));
    expect(event).toMatchObject({
      event_type: 'budget.threshold_crossed',
      data: { threshold: 0.8, direction: 'rising' },
    });
    expect(delivery!.headers).toMatchObject({
      'content-type': 'application/json',
      'x-cycles-event-id': event.event_id,
      'x-cycles-event-type': 'budget.threshold_crossed',
      'x-cycles-trace-id': 'b'.repeat(32),
      authorization: 'Bearer slack',
    });
    expect(delivery!.headers.traceparent).toMatch(new RegExp(`^00-${'b'.repeat(32)}-[0-9a-f]{16}-01$`));
    await ledger.close?.();
  });

  it('retries non-2xx answers with backoff, then gives up and says so', async () => {
    const { url, received } = await receiver([500, 503, 200]);
    const sink = createWebhookSink({
      url,
      secret: 's',
      allowHttp: true,
      retry: { initialDelayMs: 100, maxRetries: 3 },
    });
    const event = {
      event_id: 'evt_1',
      event_type: 'budget.exhausted' as const,
      category: 'budget' as const,
      timestamp: new Date().toISOString(),
      tenant_id: 'acme',
      source: 'test',
    };
    sink.send(event);
    await sink.idle();
    expect(received).toHaveLength(3);
    expect(new Set(received.map((r) => r.raw.toString()))).toEqual(new Set([JSON.stringify(event)]));

    const failing = await receiver([500, 500]);
    const failures: string[] = [];
    const giveUp = createWebhookSink({
      url: failing.url,
      secret: 's',
      allowHttp: true,
      retry: { initialDelayMs: 100, maxRetries: 1 },
      onFailure: (_event, error) => failures.push(error),
    });
    giveUp.send(event);
    await giveUp.idle();
    expect(failing.received).toHaveLength(2);
    expect(failures).toEqual(['HTTP 500']);
  });

  it('refuses http without allowHttp, a missing secret and retry values out of the spec range', () => {
    expect(() => createWebhookSink({ url: 'http://example.com', secret: 's' })).toThrow(/url must be https/);
    expect(() => createWebhookSink({ url: 'not a url', secret: 's' })).toThrow(/url is not a URL/);
    expect(() => createWebhookSink({ url: 'https://example.com', secret: '' })).toThrow(/secret is required/);
    expect(() => retryPolicyOf({ maxRetries: 11 })).toThrow(/retry_policy.max_retries/);
    expect(() => retryPolicyOf({ backoffMultiplier: 0.5 })).toThrow(/retry_policy.backoff_multiplier/);
  });

  it('backs off 1 s, 2 s, 4 s, 8 s, 16 s by default, capped at max_delay_ms', () => {
    const policy = retryPolicyOf();
    expect([1, 2, 3, 4, 5].map((retry) => retryDelayMs(policy, retry))).toEqual([
      1000, 2000, 4000, 8000, 16000,
    ]);
    expect(retryDelayMs(retryPolicyOf({ maxDelayMs: 3000 }), 5)).toBe(3000);
  });

  it('verifies signatures over the exact bytes only', () => {
    const body = '{"a":1}';
    const header = signWebhookBody('k', body);
    expect(verifyWebhookSignature('k', body, header)).toBe(true);
    expect(verifyWebhookSignature('k', '{"a": 1}', header)).toBe(false);
    expect(verifyWebhookSignature('k', body, header.toUpperCase())).toBe(false);
    expect(verifyWebhookSignature('k', body, undefined)).toBe(false);
  });
});
