import { createHmac, timingSafeEqual } from 'node:crypto';

// The spec's webhook signature (RT §WEBHOOK EVENT GUIDANCE): HMAC-SHA256 over the raw body bytes, keyed
// with the secret's UTF-8 bytes, sent as `X-Cycles-Signature: sha256=<lowercase hex>`. No timestamp.

/** The `X-Cycles-Signature` value of a body. */
export function signWebhookBody(secret: string, body: string | Uint8Array): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/**
 * Whether `header` is the signature of the raw, unparsed `body` under `secret`, compared in constant
 * time. Receivers should then deduplicate on `event_id` (the spec's only replay defence).
 */
export function verifyWebhookSignature(
  secret: string,
  body: string | Uint8Array,
  header: string | null | undefined,
): boolean {
  if (typeof header !== 'string' || !/^sha256=[0-9a-f]{64}$/.test(header)) return false;
  const expected = Buffer.from(signWebhookBody(secret, body), 'utf8');
  return timingSafeEqual(expected, Buffer.from(header, 'utf8'));
}
