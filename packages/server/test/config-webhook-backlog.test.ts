import { InvalidConfigError } from '@cycles-guard/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseServerConfig } from '../src/config.ts';

// `webhookMaxBacklog`: an integer from 1 to 1,000,000 is taken as is; anything else is refused naming
// the field and the range, so a typo never leaves the bound off or at zero.

describe('webhookMaxBacklog', () => {
  it('takes an integer from 1 to 1,000,000 and is unset by default', () => {
    expect(parseServerConfig({}).webhookMaxBacklog).toBeUndefined();
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000_000 }), (bound) => {
        expect(parseServerConfig({ webhookMaxBacklog: bound }).webhookMaxBacklog).toBe(bound);
      }),
    );
  });

  it('refuses anything else, naming the field and the range', () => {
    const wrong = fc.oneof(
      fc.integer({ max: 0 }),
      fc.integer({ min: 1_000_001 }),
      fc.double().filter((value) => !Number.isInteger(value)),
      fc.string(),
      fc.boolean(),
      fc.constant(null),
      fc.array(fc.integer()),
    );
    fc.assert(
      fc.property(wrong, (value) => {
        try {
          parseServerConfig({ webhookMaxBacklog: value });
        } catch (error) {
          expect(InvalidConfigError.isInstance(error), String(error)).toBe(true);
          expect((error as InvalidConfigError).details?.field).toBe('webhookMaxBacklog');
          expect((error as Error).message).toContain('must be an integer from 1 to 1000000');
          return;
        }
        throw new Error(`accepted ${JSON.stringify(value)}`);
      }),
    );
  });
});
