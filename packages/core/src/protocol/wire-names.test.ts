import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from './errors.ts';
import { toWireErrorResponse } from './mappers.ts';
import { validateExtend, validateReserve } from './validate.ts';
import { toWireField, toWireMessage } from './wire-names.ts';

function refusal(run: () => void): InvalidRequestError {
  try {
    run();
  } catch (error) {
    if (error instanceof InvalidRequestError) return error;
  }
  throw new Error('expected an InvalidRequestError');
}

const reserve = {
  idempotencyKey: 'k',
  subject: { tenant: 'acme' },
  action: { kind: 'llm.completion', name: 'm' },
  estimate: { unit: 'TOKENS', amount: 1 },
} as const;

describe('wire names in errors', () => {
  it('names top-level and nested fields as the protocol does, over the wire only', () => {
    const cases: [() => void, string][] = [
      [() => validateReserve({ ...reserve, ttlMs: 5 }), 'ttl_ms'],
      [() => validateReserve({ ...reserve, gracePeriodMs: -1 }), 'grace_period_ms'],
      [() => validateReserve({ ...reserve, overagePolicy: 'NOPE' as never }), 'overage_policy'],
      [() => validateReserve({ ...reserve, idempotencyKey: '' }), 'idempotency_key'],
      [() => validateExtend({ idempotencyKey: 'k', extendByMs: 0 }), 'extend_by_ms'],
      [
        () =>
          validateReserve({
            ...reserve,
            action: { ...reserve.action, policyKeys: { pathPrefix: 'x'.repeat(600) } },
          }),
        'action.policy_keys.path_prefix',
      ],
    ];
    for (const [run, wireField] of cases) {
      const error = refusal(run);
      expect(error.details?.field).not.toBe(wireField);
      const body = toWireErrorResponse(error, 'req', undefined);
      expect(body.details?.field).toBe(wireField);
      expect(body.message.startsWith(wireField)).toBe(true);
      expect(body.message).not.toMatch(
        /ttlMs|gracePeriodMs|overagePolicy|extendByMs|idempotencyKey|policyKeys/,
      );
    }
  });

  it('lists allowed members with their wire names', () => {
    const error = refusal(() =>
      validateReserve({ ...reserve, action: { ...reserve.action, extra: 1 } as never }),
    );
    expect(toWireErrorResponse(error, 'req').message).toContain('policy_keys');
  });

  it("never renames the caller's own keys in metadata, dimensions or custom maps", () => {
    fc.assert(
      fc.property(
        fc.constantFrom('metadata', 'subject.dimensions', 'metrics.custom', 'action.policyKeys.custom'),
        fc.array(fc.constantFrom('ttlMs', 'fooBar', 'idempotencyKey', 'a', 'maxTokens'), { minLength: 1 }),
        (open, keys) => {
          const path = `${open}.${keys.join('.')}`;
          expect(toWireField(path).endsWith(`.${keys.join('.')}`)).toBe(true);
          expect(toWireField(toWireField(path))).toBe(toWireField(path));
        },
      ),
    );
  });

  it("keeps a field a server named from the wire request (a client's own misspelling)", () => {
    const misspelt = new InvalidRequestError('ttlMs is not a field of this request', {
      details: { field: 'ttlMs' },
    });
    const body = toWireErrorResponse(misspelt, 'req');
    expect(body.details?.field).toBe('ttlMs');
    expect(body.message).toBe('ttlMs is not a field of this request');
  });

  it('leaves messages that do not start with their field alone', () => {
    expect(toWireMessage('Budget ttlMs', 'ttlMs')).toBe('Budget ttlMs');
    expect(toWireField('action.tags[2]')).toBe('action.tags[2]');
    expect(toWireField('metrics.tokensInput')).toBe('metrics.tokens_input');
  });
});
