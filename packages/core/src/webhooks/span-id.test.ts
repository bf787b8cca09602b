import { describe, expect, it } from 'vitest';
import { newSpanId } from './span-id.ts';

describe('newSpanId', () => {
  it('gives 16 lowercase hex digits, never all zeros, distinct across several pool refills', () => {
    const ids = Array.from({ length: 2000 }, () => newSpanId());
    for (const id of ids) {
      expect(id).toMatch(/^[0-9a-f]{16}$/);
      expect(id).not.toBe('0'.repeat(16));
    }
    expect(new Set(ids).size).toBe(ids.length);
  });
});
