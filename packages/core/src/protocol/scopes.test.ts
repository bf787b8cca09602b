import { describe, expect, it } from 'vitest';
import { affectedScopes, leafSegment, scopePath, scopeTenant } from './scopes.ts';

describe('scopes', () => {
  it('derives cumulative prefixes in canonical order, skipping gaps and lower-casing values', () => {
    const subject = { agent: 'Bot', tenant: 'ACME', workspace: 'prod' };
    expect(affectedScopes(subject)).toEqual([
      'tenant:acme',
      'tenant:acme/workspace:prod',
      'tenant:acme/workspace:prod/agent:bot',
    ]);
    expect(scopePath(subject)).toBe('tenant:acme/workspace:prod/agent:bot');
  });

  it('reads the leaf and tenant of a path', () => {
    expect(leafSegment('tenant:acme/agent:bot')).toBe('agent:bot');
    expect(leafSegment('tenant:acme')).toBe('tenant:acme');
    expect(scopeTenant('tenant:acme/agent:bot')).toBe('acme');
    expect(scopeTenant('workspace:x')).toBeUndefined();
  });
});
