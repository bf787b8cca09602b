/** A source of "now" in ms since the epoch. Ledgers take one so tests can move time by hand. */
export interface Clock {
  now(): number;
}

// Looked up on each call, not captured: fake timers (tests) replace Date.now after this module loads.
export const systemClock: Clock = { now: () => Date.now() };

/** A clock that only moves when told to: for tests of expiry, grace and budget windows. */
export class ManualClock implements Clock {
  constructor(private current = Date.UTC(2026, 0, 1)) {}
  now(): number {
    return this.current;
  }
  advance(ms: number): void {
    this.current += ms;
  }
  set(ms: number): void {
    this.current = ms;
  }
}
