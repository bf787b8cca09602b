import { describe, expect, it } from 'vitest';
import { findTemplate, matchesPattern, normalizePattern } from './templates.ts';

describe('templates', () => {
  it('matches whole paths segment by segment', () => {
    expect(matchesPattern('tenant:*', 'tenant:acme')).toBe(true);
    expect(matchesPattern('tenant:*', 'tenant:acme/app:chat')).toBe(false);
    expect(matchesPattern('tenant:*/app:chat', 'tenant:acme/app:chat')).toBe(true);
    expect(matchesPattern('tenant:*/app:chat', 'tenant:acme/app:other')).toBe(false);
    expect(matchesPattern('tenant:*/app:*', 'tenant:acme/workspace:x')).toBe(false);
  });

  it('lower-cases pattern values and picks the first template in the unit', () => {
    expect(normalizePattern('tenant:ACME/app:*')).toBe('tenant:acme/app:*');
    const templates = [
      { pattern: 'tenant:*', unit: 'TOKENS' as const, allocated: 1 },
      { pattern: 'tenant:*', unit: 'CREDITS' as const, allocated: 2 },
    ];
    expect(findTemplate(templates, 'tenant:acme', 'CREDITS')?.allocated).toBe(2);
    expect(findTemplate(templates, 'tenant:acme', 'RISK_POINTS')).toBeUndefined();
  });
});
