import { describe, expect, it } from 'vitest';
import { decodeRecord, encodeRecord } from '../src/reservation-views.ts';

// A reservation's stored record: the request's facts only, its scopes derived again when read.

describe('the reservation record', () => {
  const subject = { tenant: 'acme', workspace: 'prod', app: 'chat' };
  const action = { kind: 'llm.completion', name: 'm' };
  const scopes = ['tenant:acme', 'tenant:acme/workspace:prod', 'tenant:acme/workspace:prod/app:chat'];

  it('stores subject, action, key and metadata, and reads the scopes back from the subject', () => {
    const text = encodeRecord({ subject, action, idempotencyKey: 'k1', metadata: { run: 7 } });
    expect(text).not.toContain('tenant:acme');
    expect(decodeRecord(text)).toEqual({
      subject,
      action,
      idempotencyKey: 'k1',
      metadata: { run: 7 },
      scopePath: scopes[2],
      affectedScopes: scopes,
    });
    expect(decodeRecord(encodeRecord({ subject, action, idempotencyKey: 'k2' })).metadata).toBeUndefined();
  });

  it('reads the object form written before 2026-12-07', () => {
    const old = { subject, action, idempotencyKey: 'k', scopePath: scopes[2], affectedScopes: scopes };
    expect(decodeRecord(JSON.stringify(old))).toEqual(old);
  });
});
