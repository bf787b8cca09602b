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
});
