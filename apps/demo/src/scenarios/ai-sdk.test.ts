import { describe, expect, it } from 'vitest';
import { runAiSdkScenario } from './ai-sdk.ts';

describe('ai-sdk scenario: runaway streamText tool loops', () => {
  it('stops every loop within the budget, settles every step, and unguarded it would cost more', async () => {
    const lines: string[] = [];
    const result = await runAiSdkScenario({
      budgetMicrocents: 20_000_000, // $0.20, so the test stays quick
      latency: { firstByteMs: 20, perChunkMs: 1 },
      durationMs: 60_000, // far beyond what the budget lasts, even on a busy CI machine
      onProgress: (line) => lines.push(line),
    });
    expect(result.stoppedByGuard).toBe(true);
    expect(result.denied).toBe(result.workers); // every loop ended on a denial, none on the deadline
    expect(result.spentMicrocents).toBeGreaterThan(0);
    expect(result.spentMicrocents).toBeLessThanOrEqual(result.budgetMicrocents);
    expect(result.reservedMicrocents).toBe(0);
    expect(result.allowed + result.denied).toBe(result.calls);
    expect(result.capped).toBe(result.cappedGrantedMaxTokens.length);
    expect(result.cappedGrantedMaxTokens.every((granted) => granted < 4_096)).toBe(true);
    expect(result.stopReason).toMatch(/^BUDGET_EXCEEDED/);
    expect(result.elapsedMs).toBeLessThan(60_000);
    expect(result.unguardedMicrocents).toBeGreaterThan(result.budgetMicrocents);
    expect(lines.at(-1)).toMatch(/denied 4/);
  }, 90_000);
});
