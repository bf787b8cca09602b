import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WebhookUrlGuard, WebhookUrlRefused } from './url-guard.ts';
import { DEFAULT_BLOCKED_CIDR_RANGES, parseWebhookSecurity } from './webhook-security.ts';

// The guard against a reference written with integer arithmetic: any IPv4 address, in any spelling a
// URL accepts (dotted, one decimal number, hex, IPv4-mapped IPv6), is refused exactly when it lies in
// a default IPv4 range.

const V4_RANGES = DEFAULT_BLOCKED_CIDR_RANGES.filter((range) => !range.includes(':')).map((range) => {
  const [base, bits] = range.split('/') as [string, string];
  const value = base.split('.').reduce((sum, octet) => sum * 256 + Number(octet), 0);
  const size = 2 ** (32 - Number(bits));
  return { start: value - (value % size), size };
});

function blocked(value: number): boolean {
  return V4_RANGES.some(({ start, size }) => value >= start && value < start + size);
}

function dotted(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

const guard = new WebhookUrlGuard(parseWebhookSecurity({}), async () => {
  throw new Error('no DNS in this test');
});

async function refused(url: string): Promise<boolean> {
  try {
    await guard.check(url);
    return false;
  } catch (error) {
    if (!(error instanceof WebhookUrlRefused)) throw error;
    return true;
  }
}

describe('WebhookUrlGuard', () => {
  it('refuses an IPv4 address in any spelling exactly when a default range holds it', async () => {
    // Half the samples from inside the ranges, so both answers are well covered.
    const inside = fc
      .tuple(fc.constantFrom(...V4_RANGES), fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }))
      .map(([range, at]) => range.start + Math.floor(at * range.size));
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.integer({ min: 0, max: 2 ** 32 - 1 }), inside),
        fc.constantFrom('dotted', 'decimal', 'hex', 'mapped'),
        async (value, spelling) => {
          const host = {
            dotted: dotted(value),
            decimal: String(value),
            hex: `0x${value.toString(16)}`,
            mapped: `[::ffff:${dotted(value)}]`,
          }[spelling];
          expect(await refused(`https://${host}/hook`)).toBe(blocked(value));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('refuses an IPv6 address that carries a blocked IPv4 one (6to4, Teredo, NAT64, IPv4-compatible, IPv4-translated)', async () => {
    const hex = (value: number) => [Math.floor(value / 65_536), value % 65_536].map((w) => w.toString(16));
    const PUBLIC = 0x08080808; // 8.8.8.8, the other address of a Teredo one
    const forms: Record<string, (value: number) => string> = {
      '6to4': (value) => `2002:${hex(value).join(':')}::1`,
      'Teredo server': (value) => `2001:0:${hex(value).join(':')}:8000:f227:${hex(~PUBLIC >>> 0).join(':')}`,
      'Teredo client': (value) => `2001:0:${hex(PUBLIC).join(':')}:0:f227:${hex(~value >>> 0).join(':')}`,
      'IPv4-compatible': (value) => `::${dotted(value)}`,
      'IPv4-translated': (value) => `::ffff:0:${hex(value).join(':')}`,
      'NAT64 (prefix taken off the list)': (value) => `64:ff9b::${hex(value).join(':')}`,
    };
    const withoutNat64 = new WebhookUrlGuard(
      parseWebhookSecurity({
        blocked_cidr_ranges: DEFAULT_BLOCKED_CIDR_RANGES.filter((range) => range !== '64:ff9b::/96'),
      }),
    );
    const refusedBy = async (judge: WebhookUrlGuard, url: string) =>
      judge.check(url).then(
        () => false,
        (error: unknown) => {
          if (!(error instanceof WebhookUrlRefused)) throw error;
          return true;
        },
      );
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.integer({ min: 0, max: 2 ** 32 - 1 }),
          fc.constantFrom(0x7f000001, 0x0a000001, 0xa9fea9fe),
        ),
        fc.constantFrom(...Object.keys(forms)),
        async (value, form) => {
          const url = `https://[${forms[form]!(value)}]/hook`;
          expect(await refusedBy(withoutNat64, url), `${form} ${url}`).toBe(blocked(value));
        },
      ),
      { numRuns: 2000 },
    );
    // By default both NAT64 prefixes are refused whatever they carry; the reason names what was carried.
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 2 ** 32 - 1 }), async (value) => {
        expect(await refused(`https://[64:ff9b::${hex(value).join(':')}]/`)).toBe(true);
        expect(await refused(`https://[64:ff9b:1:${hex(value).join(':')}::1]/`)).toBe(true);
      }),
    );
    const http = new WebhookUrlGuard(parseWebhookSecurity({ allow_http: true }));
    await expect(http.check('http://[64:ff9b::7f00:1]/')).rejects.toThrow(
      'inside blocked range 64:ff9b::/96',
    );
    await expect(guard.check('https://[2002:7f00:1::1]/')).rejects.toThrow(
      'which carries 127.0.0.1 (6to4), inside blocked range 127.0.0.0/8',
    );
    // Ordinary public IPv6 addresses pass.
    for (const address of ['2001:db8::1', '2600:1f18::1', '2001:4860:4860::8888', '64:ff9c::7f00:1']) {
      expect(await refused(`https://[${address}]/`), address).toBe(false);
    }
  });

  it('answers Node’s lookup with the checked addresses, in the shape each call asks for', async () => {
    const answers = [
      { address: '203.0.113.7', family: 4 },
      { address: '2001:db8::7', family: 6 },
    ];
    const resolving = new WebhookUrlGuard(parseWebhookSecurity({}), async () => answers);
    const all = await new Promise((resolve) =>
      resolving.lookup('x.example', { all: true }, (error, address) => resolve({ error, address })),
    );
    expect(all).toEqual({ error: null, address: answers });
    const one = await new Promise((resolve) =>
      resolving.lookup('x.example', {}, (error, address, family) => resolve({ error, address, family })),
    );
    expect(one).toEqual({ error: null, address: '203.0.113.7', family: 4 });
    const rebound = new WebhookUrlGuard(parseWebhookSecurity({}), async () => [
      { address: '::1', family: 6 },
    ]);
    const refusedLookup = await new Promise<Error | null>((resolve) =>
      rebound.lookup('x.example', { all: true }, (error) => resolve(error)),
    );
    expect(refusedLookup).toBeInstanceOf(WebhookUrlRefused);
    expect(refusedLookup?.message).toContain('inside blocked range ::1/128');
  });

  it('applies allowed_url_patterns as the wildcard regular expression did, without its backtracking', () => {
    // The oracle: the regular expression each glob used to become (`*` within the origin, then anything).
    const oracle = (glob: string, href: string) => {
      const toRegex = (part: string, star: string) =>
        part.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, star);
      const pathAt = glob.indexOf('/', glob.indexOf('://') + 3);
      const origin = pathAt === -1 ? glob : glob.slice(0, pathAt);
      const path = pathAt === -1 ? '/*' : glob.slice(pathAt);
      return new RegExp(`^${toRegex(origin, '[^/@]*')}${toRegex(path, '.*')}$`).test(href);
    };
    const part = (units: string[], max: number) =>
      fc.string({ unit: fc.constantFrom(...units), maxLength: max });
    fc.assert(
      fc.property(
        part(['a', 'b', '.', '*'], 6).filter((host) => host !== ''),
        fc.option(part(['a', '/', '*', '.'], 6)),
        part(['a', 'b', '.'], 6).filter((host) => /^[ab]+(\.[ab]+)*$/.test(host)),
        part(['a', 'b', '/', '.'], 8),
        (hostGlob, pathGlob, host, path) => {
          const glob = `https://${hostGlob}${pathGlob === null ? '' : `/${pathGlob}`}`;
          const judge = new WebhookUrlGuard(parseWebhookSecurity({ allowed_url_patterns: [glob] }));
          const href = new URL(`https://${host}/${path}`).href;
          let allowed = true;
          try {
            judge.checkForm(href);
          } catch (error) {
            if (!(error instanceof WebhookUrlRefused)) throw error;
            allowed = false;
          }
          expect(allowed, `${glob} ${href}`).toBe(oracle(glob, href));
        },
      ),
      { numRuns: 5000 },
    );
    // What used to freeze the server: five stars in the path against a URL of 2,000 characters.
    const judge = new WebhookUrlGuard(
      parseWebhookSecurity({ allowed_url_patterns: ['https://hooks.example.com/*/*/*/*/*/end'] }),
    );
    expect(() => judge.checkForm(`https://hooks.example.com/${'a/'.repeat(1000)}x`)).toThrow(
      WebhookUrlRefused,
    );
    expect(judge.checkForm('https://hooks.example.com/1/2/3/4/5/end').pathname).toBe('/1/2/3/4/5/end');
  });
});
