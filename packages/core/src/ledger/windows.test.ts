import { describe, expect, it } from 'vitest';
import { windowBounds } from './windows.ts';

const iso = (ms: number) => new Date(ms).toISOString();

describe('windowBounds', () => {
  it('UTC day', () => {
    const bounds = windowBounds({ period: 'day' }, Date.UTC(2026, 2, 10, 15, 30));
    expect(iso(bounds.startMs)).toBe('2026-03-10T00:00:00.000Z');
    expect(iso(bounds.endMs)).toBe('2026-03-11T00:00:00.000Z');
  });

  it('day in a non-UTC zone starts at local midnight', () => {
    // 2026-07-01 23:30 UTC is 2026-07-02 01:30 in Paris (UTC+2 in summer)
    const bounds = windowBounds({ period: 'day', timeZone: 'Europe/Paris' }, Date.UTC(2026, 6, 1, 23, 30));
    expect(iso(bounds.startMs)).toBe('2026-07-01T22:00:00.000Z');
    expect(iso(bounds.endMs)).toBe('2026-07-02T22:00:00.000Z');
  });

  it('a DST change makes the local day 23 hours long', () => {
    const bounds = windowBounds({ period: 'day', timeZone: 'America/New_York' }, Date.UTC(2026, 2, 8, 12));
    expect(bounds.endMs - bounds.startMs).toBe(23 * 3_600_000);
  });

  it('hours honour half-hour offsets', () => {
    const bounds = windowBounds({ period: 'hour', timeZone: 'Asia/Kolkata' }, Date.UTC(2026, 0, 1, 10, 10));
    expect(iso(bounds.startMs)).toBe('2026-01-01T09:30:00.000Z');
    expect(iso(bounds.endMs)).toBe('2026-01-01T10:30:00.000Z');
  });

  it('weeks start on Monday', () => {
    // 2026-01-01 is a Thursday
    const bounds = windowBounds({ period: 'week' }, Date.UTC(2026, 0, 1, 12));
    expect(iso(bounds.startMs)).toBe('2025-12-29T00:00:00.000Z');
    expect(iso(bounds.endMs)).toBe('2026-01-05T00:00:00.000Z');
  });

  it('months roll over the year and handle February', () => {
    const december = windowBounds(
      { period: 'month', timeZone: 'Asia/Tokyo' },
      Date.UTC(2026, 11, 31, 14, 59),
    );
    expect(iso(december.startMs)).toBe('2026-11-30T15:00:00.000Z');
    expect(iso(december.endMs)).toBe('2026-12-31T15:00:00.000Z');
    const february = windowBounds({ period: 'month' }, Date.UTC(2028, 1, 29, 23));
    expect(iso(february.endMs)).toBe('2028-03-01T00:00:00.000Z');
  });
});
