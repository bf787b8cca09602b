import {
  DEFAULT_BLOCKED_CIDR_RANGES,
  type WebhookSecurityConfig,
} from '../../src/webhooks/webhook-security.ts';

/**
 * The test switch for receivers on this machine: http allowed and 127.0.0.0/8 taken off the blocked
 * ranges, every other default range still blocked. Stated in each server's config, never implied.
 */
export const LOOPBACK_WEBHOOKS: WebhookSecurityConfig = {
  blocked_cidr_ranges: DEFAULT_BLOCKED_CIDR_RANGES.filter((range) => range !== '127.0.0.0/8'),
  allowed_url_patterns: [],
  allow_http: true,
};
