import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { spec, validateAgainstSpec, validateQueryAgainstSpec } from './spec.ts';

describe('spec helper', () => {
  it('loads the v0.1.25 spec', () => {
    expect(spec.info.version).toMatch(/^0\.1\.25/);
  });

  it('is the published v0.1.25.16 document, unedited (digest of its parsed content)', () => {
    const digest = createHash('sha256').update(JSON.stringify(spec)).digest('hex');
    expect(digest).toBe('6c31fe0e9e9f58a67855c5b799bb67e560c28b49fa52f3885189eaf4ae21149a');
  });

  it('resolves cross-component refs and accepts a valid object', () => {
    const request = {
      idempotency_key: 'k',
      subject: { tenant: 'acme' },
      action: { kind: 'llm.completion', name: 'm' },
      estimate: { unit: 'USD_MICROCENTS', amount: 1 },
    };
    expect(validateAgainstSpec('ReservationCreateRequest', request)).toEqual({ valid: true, errors: [] });
  });

  it('is strict: extra fields, nulls, bad enums, negative amounts and bad formats fail', () => {
    const amount = { unit: 'TOKENS', amount: 1 };
    expect(validateAgainstSpec('Amount', { ...amount, currency: 'USD' }).valid).toBe(false);
    expect(validateAgainstSpec('Amount', { unit: 'TOKENS', amount: null }).valid).toBe(false);
    expect(validateAgainstSpec('Amount', { unit: 'EUR', amount: 1 }).valid).toBe(false);
    expect(validateAgainstSpec('Amount', { unit: 'TOKENS', amount: -1 }).valid).toBe(false);
    expect(validateAgainstSpec('Amount', { unit: 'TOKENS', amount: 1.5 }).valid).toBe(false);
    expect(validateAgainstSpec('SignedAmount', { unit: 'TOKENS', amount: -1 }).valid).toBe(true);
    expect(validateAgainstSpec('Subject', { dimensions: { a: 'b' } }).valid).toBe(false);
    expect(validateAgainstSpec('CyclesEvidenceRef', { evidence_id: 'a'.repeat(64) }).valid).toBe(false);
    const nested = validateAgainstSpec('CommitResponse', {
      status: 'COMMITTED',
      charged: { ...amount, extra: 1 },
    });
    expect(nested.valid).toBe(false);
    expect(nested.errors.join()).toContain('extra');
  });

  it('validates query strings against the operation parameters', () => {
    const path = '/v1/reservations';
    expect(
      validateQueryAgainstSpec(path, 'get', new URLSearchParams('from=2026-01-01T00:00:00Z&limit=5')).valid,
    ).toBe(true);
    expect(validateQueryAgainstSpec(path, 'get', new URLSearchParams('created_from=x')).valid).toBe(false);
    expect(validateQueryAgainstSpec(path, 'get', new URLSearchParams('from=yesterday')).valid).toBe(false);
    expect(validateQueryAgainstSpec(path, 'get', new URLSearchParams('limit=500')).valid).toBe(false);
    expect(validateQueryAgainstSpec(path, 'get', new URLSearchParams('sort_by=amount')).valid).toBe(false);
    expect(
      validateQueryAgainstSpec('/v1/balances', 'get', new URLSearchParams('include_children=true')).valid,
    ).toBe(true);
  });

  it('throws for an unknown schema name', () => {
    expect(() => validateAgainstSpec('NoSuchSchema', {})).toThrow(/NoSuchSchema/);
  });
});
