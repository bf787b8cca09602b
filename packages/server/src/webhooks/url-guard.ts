import type { LookupAddress } from 'node:dns';
import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { InvalidRequestError } from '@cycles-guard/core';
import { embeddedIpv4 } from './embedded-ipv4.ts';
import { parseCidr, type WebhookSecurityConfig } from './webhook-security.ts';

// SSRF defence: a webhook URL is checked when a subscription is created or changed (its host resolved,
// every address tested against the blocked ranges), and again at each new connection, which goes to
// the very address just checked (a custom `lookup`), so a name that resolves elsewhere later (DNS
// rebinding) cannot reach a blocked address.

/** Resolves a host name to all its addresses (default: the system resolver, as Node's `http` uses). */
export type HostResolver = (hostname: string) => Promise<{ address: string; family: number }[]>;

const systemResolver: HostResolver = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

/** A URL the policy refuses: 400 naming `url` when a subscription is written, a failed attempt when sent. */
export class WebhookUrlRefused extends InvalidRequestError {
  constructor(problem: string, fix: string) {
    super(`url ${problem}: ${fix}`, { details: { field: 'url' } });
  }
}

/** One character of an `allowed_url_patterns` glob: itself, or a star and the characters it may not match. */
type GlobToken = string | { starStopsAt: string };

/**
 * A glob of `allowed_url_patterns` as a test of a whole URL: `*` stays within the origin (no `/` or
 * `@`) before the path, and matches anything in the path. Matched by dynamic programming in
 * O(glob × URL): the regular expression it used to be ran over two minutes (stopped there) on a tenant’s
 * 2,000-character URL against a glob of five stars, freezing the server.
 */
function patternOf(glob: string): (href: string) => boolean {
  const pathAt = glob.indexOf('/', glob.indexOf('://') + 3);
  const origin = pathAt === -1 ? glob : glob.slice(0, pathAt);
  const path = pathAt === -1 ? '/*' : glob.slice(pathAt);
  const inOrigin = { starStopsAt: '/@' };
  const inPath = { starStopsAt: '' };
  const tokens: GlobToken[] = [
    ...[...origin].map((c) => (c === '*' ? inOrigin : c)),
    ...[...path].map((c) => (c === '*' ? inPath : c)),
  ];
  return (href) => {
    // matched[i]: the first i tokens match the text read so far.
    let matched = tokens.map(() => false).concat(false);
    matched[0] = true;
    for (let i = 0; i < tokens.length && typeof tokens[i] !== 'string'; i++) matched[i + 1] = true;
    for (const c of href) {
      const next = tokens.map(() => false).concat(false);
      for (let i = 0; i < tokens.length; i++) {
        const token = tokens[i]!;
        if (typeof token === 'string') next[i + 1] = matched[i]! && token === c;
        else next[i + 1] = next[i]! || (!token.starStopsAt.includes(c) && (matched[i + 1]! || matched[i]!));
      }
      matched = next;
    }
    return matched[tokens.length]!;
  };
}

/** Applies one `WebhookSecurityConfig`; `replace` swaps it (the admin PUT). */
export class WebhookUrlGuard {
  private current!: WebhookSecurityConfig;
  private blocked!: BlockList;
  private patterns!: ((href: string) => boolean)[];

  constructor(
    config: WebhookSecurityConfig,
    private readonly resolve: HostResolver = systemResolver,
  ) {
    this.replace(config);
  }

  get config(): WebhookSecurityConfig {
    return this.current;
  }

  replace(config: WebhookSecurityConfig): void {
    const blocked = new BlockList();
    for (const range of config.blocked_cidr_ranges) {
      const { address, prefix, v } = parseCidr(range, 'blocked_cidr_ranges');
      blocked.addSubnet(address, prefix, v === 4 ? 'ipv4' : 'ipv6');
    }
    this.current = config;
    this.blocked = blocked;
    this.patterns = config.allowed_url_patterns.map(patternOf);
  }

  /** The scheme and the patterns (no DNS). Returns the parsed URL. */
  checkForm(value: string): URL {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new WebhookUrlRefused('is not a URL', 'send an absolute https:// URL');
    }
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && this.current.allow_http)) {
      throw new WebhookUrlRefused(
        'must be https',
        'use an https:// endpoint (http only when the server config sets webhookSecurity.allow_http, for development)',
      );
    }
    if (url.username !== '' || url.password !== '') {
      throw new WebhookUrlRefused('may not carry credentials', 'send them in the subscription’s headers');
    }
    if (this.patterns.length > 0 && !this.patterns.some((matches) => matches(url.href))) {
      throw new WebhookUrlRefused(
        'matches none of allowed_url_patterns',
        `use a URL matching one of ${this.current.allowed_url_patterns.slice(0, 5).join(', ')}`,
      );
    }
    return url;
  }

  /**
   * Refuses an address in a blocked range, naming the range; an IPv6 address that carries an IPv4 one
   * (NAT64, 6to4, Teredo, IPv4-compatible or -mapped: `embedded-ipv4.ts`) is refused when that is.
   */
  checkAddress(address: string, host: string): void {
    const v = isIP(address);
    if (v === 0)
      throw new WebhookUrlRefused(`host ${host} gave ${address}, not an IP address`, 'use another host');
    const refuse = (inside: string, range: string): never => {
      throw new WebhookUrlRefused(
        `resolves to ${address} (${host})${inside}, inside blocked range ${range}`,
        'point it at a public address (blocked_cidr_ranges of GET /v1/admin/config/webhook-security)',
      );
    };
    const own = this.rangeOf(address, v === 4 ? 'ipv4' : 'ipv6');
    if (own !== undefined) refuse('', own);
    if (v === 4) return;
    for (const embedded of embeddedIpv4(address)) {
      const range = this.rangeOf(embedded.address, 'ipv4');
      if (range !== undefined) refuse(`, which carries ${embedded.address} (${embedded.form})`, range);
    }
  }

  /** The blocked range holding an address, or undefined. */
  private rangeOf(address: string, family: 'ipv4' | 'ipv6'): string | undefined {
    if (!this.blocked.check(address, family)) return undefined;
    return (
      this.current.blocked_cidr_ranges.find((cidr) => {
        const one = new BlockList();
        const { address: base, prefix, v } = parseCidr(cidr, 'blocked_cidr_ranges');
        one.addSubnet(base, prefix, v === 4 ? 'ipv4' : 'ipv6');
        return one.check(address, family);
      }) ?? 'a blocked range'
    );
  }

  /** Every address of the URL's host, each checked; for a subscription being written. */
  async check(value: string): Promise<void> {
    const url = this.checkForm(value);
    await this.addressesOf(url.hostname);
  }

  /** The host's addresses, all checked (one blocked address refuses the host: any may be picked). */
  async addressesOf(hostname: string): Promise<LookupAddress[]> {
    const host = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
    const literal = isIP(host);
    let found: LookupAddress[];
    if (literal !== 0) found = [{ address: host, family: literal }];
    else {
      try {
        found = await this.resolve(host);
      } catch (error) {
        const code = (error as { code?: string }).code ?? 'no answer';
        throw new WebhookUrlRefused(
          `host ${host} does not resolve (${code})`,
          'use a host name that resolves publicly',
        );
      }
      if (found.length === 0) throw new WebhookUrlRefused(`host ${host} has no address`, 'use another host');
    }
    for (const { address } of found) this.checkAddress(address, host);
    return found;
  }

  /**
   * A `lookup` for `http.request`: resolves, checks, and hands the socket the checked addresses only.
   * Node calls it with `all: true` when it races address families (`autoSelectFamily`).
   */
  readonly lookup = (
    hostname: string,
    options: { all?: boolean },
    callback: (error: Error | null, address: string | LookupAddress[], family?: number) => void,
  ): void => {
    this.addressesOf(hostname).then(
      (found) => {
        if (options.all === true) callback(null, found);
        else callback(null, found[0]!.address, found[0]!.family);
      },
      (error: Error) => callback(error, ''),
    );
  };
}
