import { isIP } from 'node:net';
import { InvalidRequestError } from '@cycles-guard/core';

// GOV `WebhookSecurityConfig`: where webhook URLs may point. Parsed the same way from the server's
// config file (`webhookSecurity`) and from `PUT /v1/admin/config/webhook-security`.

/** The server-level webhook URL policy (GOV `WebhookSecurityConfig`, wire names). */
export interface WebhookSecurityConfig {
  /** Ranges a webhook host may not resolve to. */
  blocked_cidr_ranges: string[];
  /** Globs of allowed URLs (`https://*.example.com/*`); empty allows every URL not blocked. */
  allowed_url_patterns: string[];
  /** Accept `http://` URLs (development and tests only). */
  allow_http: boolean;
}

/**
 * The spec's default ranges (RFC 1918, loopback, IPv4 link-local, IPv6 loopback and unique local) plus
 * those it leaves out: `0.0.0.0/8` and `::/128` (a connection to the unspecified address reaches this
 * host), IPv6 link-local `fe80::/10`, and the NAT64 prefixes, which a gateway translates to any IPv4
 * address: the well-known `64:ff9b::/96` (its IPv4 address is checked too, should it be taken off) and
 * the local-use `64:ff9b:1::/48`, whose IPv4 address sits where its operator's prefix length puts it.
 * 6to4 and Teredo addresses are judged by the IPv4 addresses they carry (`embedded-ipv4.ts`). Also
 * shared address space `100.64.0.0/10` (carrier-grade NAT, and Alibaba Cloud's metadata service at
 * 100.100.100.200), benchmarking `198.18.0.0/15`, multicast `224.0.0.0/4` and `ff00::/8`, and the
 * reserved `240.0.0.0/4` with the broadcast address: none is a public webhook endpoint.
 */
export const DEFAULT_BLOCKED_CIDR_RANGES: readonly string[] = [
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '::1/128',
  'fc00::/7',
  '0.0.0.0/8',
  '::/128',
  'fe80::/10',
  '64:ff9b::/96',
  '64:ff9b:1::/48',
  '100.64.0.0/10',
  '198.18.0.0/15',
  '224.0.0.0/4',
  '240.0.0.0/4',
  'ff00::/8',
];

const FIELDS = ['blocked_cidr_ranges', 'allowed_url_patterns', 'allow_http'];

function fail(field: string, problem: string): never {
  throw new InvalidRequestError(`${field} ${problem}`, { details: { field } });
}

function strings(value: unknown, field: string, max: number): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length > max || value.some((item) => typeof item !== 'string')) {
    fail(field, `must be an array of at most ${max} strings`);
  }
  return [...new Set(value as string[])];
}

/** `a.b.c.d/n` or `v6::/n` → its parts, or a 400 naming the field. */
export function parseCidr(range: string, field: string): { address: string; prefix: number; v: 4 | 6 } {
  const [address = '', bits, ...rest] = range.split('/');
  const v = isIP(address);
  const max = v === 4 ? 32 : 128;
  const prefix = bits !== undefined && /^\d{1,3}$/.test(bits) ? Number(bits) : Number.NaN;
  if (v === 0 || rest.length > 0 || !(prefix >= 0 && prefix <= max)) {
    fail(
      field,
      `has ${JSON.stringify(range.slice(0, 64))}: write a CIDR range such as 10.0.0.0/8 or fc00::/7`,
    );
  }
  return { address, prefix, v: v as 4 | 6 };
}

function checkPattern(pattern: string, field: string): void {
  if (!/^https?:\/\/[^/]+(\/.*)?$/.test(pattern) || pattern.length > 2048) {
    fail(
      field,
      `has ${JSON.stringify(pattern.slice(0, 64))}: write a URL glob such as https://*.example.com/*`,
    );
  }
}

/**
 * A `WebhookSecurityConfig` from a JSON object (unknown fields refused); an omitted field takes its
 * default, so a PUT replaces the whole config, as the spec says.
 */
export function parseWebhookSecurity(body: unknown, prefix = ''): WebhookSecurityConfig {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    fail(prefix === '' ? 'body' : prefix.slice(0, -1), 'must be a JSON object (WebhookSecurityConfig)');
  }
  const wire = body as Record<string, unknown>;
  for (const key of Object.keys(wire)) {
    if (!FIELDS.includes(key))
      fail(
        `${prefix}${key.slice(0, 64)}`,
        `is not a field of WebhookSecurityConfig: use ${FIELDS.join(', ')}`,
      );
  }
  const blocked = strings(wire.blocked_cidr_ranges, `${prefix}blocked_cidr_ranges`, 1000) ?? [
    ...DEFAULT_BLOCKED_CIDR_RANGES,
  ];
  for (const range of blocked) parseCidr(range, `${prefix}blocked_cidr_ranges`);
  const patterns = strings(wire.allowed_url_patterns, `${prefix}allowed_url_patterns`, 1000) ?? [];
  for (const pattern of patterns) checkPattern(pattern, `${prefix}allowed_url_patterns`);
  if (wire.allow_http !== undefined && typeof wire.allow_http !== 'boolean')
    fail(`${prefix}allow_http`, 'must be true or false');
  return {
    blocked_cidr_ranges: blocked,
    allowed_url_patterns: patterns,
    allow_http: wire.allow_http === true,
  };
}
