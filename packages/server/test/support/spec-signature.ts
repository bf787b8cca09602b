import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Whether `header` signs `raw` as the spec tells receivers to check it: HMAC-SHA256 keyed with the
 * secret's UTF-8 bytes over the raw body, compared in constant time. Written from the spec, not with
 * core's `verifyWebhookSignature`, so that a mistake there cannot hide here.
 */
export function specSignatureValid(secret: string, raw: Buffer, header: unknown): boolean {
  const expected = Buffer.from(
    `sha256=${createHmac('sha256', Buffer.from(secret, 'utf8')).update(raw).digest('hex')}`,
  );
  const given = Buffer.from(typeof header === 'string' ? header : '');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
