import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cancelBeat, scheduleBeat } from './beat-scheduler.ts';

describe('beat scheduler', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('runs beats in due order, each once, and never a cancelled one', async () => {
    const ran: string[] = [];
    scheduleBeat(300, () => ran.push('c'));
    scheduleBeat(100, () => ran.push('a'));
    const cancelled = scheduleBeat(200, () => ran.push('cancelled'));
    scheduleBeat(200, () => ran.push('b'));
    cancelBeat(cancelled);
    await vi.advanceTimersByTimeAsync(99);
    expect(ran).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(ran).toEqual(['a']);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(ran).toEqual(['a', 'b', 'c']);
  });

  it('arms one timer for many later beats, and re-arms only for an earlier one', async () => {
    const setTimeoutSpy = vi.spyOn(globalThis, 'setTimeout');
    const ran: number[] = [];
    for (let i = 0; i < 100; i++) {
      const beat = scheduleBeat(60_000 + i, () => ran.push(i));
      if (i % 2 === 1) cancelBeat(beat);
    }
    expect(setTimeoutSpy).toHaveBeenCalledTimes(1);
    scheduleBeat(10, () => ran.push(-1));
    expect(setTimeoutSpy).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(61_000);
    expect(ran).toEqual([-1, ...Array.from({ length: 50 }, (_, i) => 2 * i)]);
  });

  it('lets a beat schedule the next one from inside its run', async () => {
    let beats = 0;
    const beat = () => {
      beats += 1;
      if (beats < 3) scheduleBeat(1_000, beat);
    };
    scheduleBeat(1_000, beat);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(beats).toBe(3);
  });
});
