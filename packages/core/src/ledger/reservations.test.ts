import { describe, expect, it } from 'vitest';
import { blankReservation, type ReservationRow, resetReservation } from './reservations.ts';

describe('reservation row recycling', () => {
  it('resetReservation empties every field a blank row has, in the same order', () => {
    const blank = blankReservation();
    // A used row: every field holds something a blank row does not.
    const used = blankReservation() as unknown as Record<string, unknown>;
    for (const key of Object.keys(used)) used[key] = { stale: key };
    resetReservation(used as unknown as ReservationRow);
    expect(used).toEqual(blank);
    expect(Object.keys(used)).toEqual(Object.keys(blank));
  });
});
