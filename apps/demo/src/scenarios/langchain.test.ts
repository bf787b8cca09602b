import { describe, expect, it } from 'vitest';
import { runLangchainScenario } from './langchain.ts';

describe('langchain scenario', () => {
  it('stops a runaway LangChain agent at the budget: every turn settled, never above the budget', async () => {
    const lines: string[] = [];
    const result = await runLangchainScenario({
      onProgress: (line) => lines.push(line),
      budgetMicrocents: 30_000_000,
      durationMs: 60_000, // far beyond what the budget lasts, even on a busy CI machine
    });
    expect(result.stoppedByGuard).toBe(true);
    expect(result.stopReason).toMatch(/^BUDGET_EXCEEDED/);
    expect(result.denied).toBe(result.workers);
    expect(result.allowed).toBeGreaterThan(result.workers);
    expect(result.calls).toBe(result.allowed + result.denied);
    expect(result.capped).toBeGreaterThan(0);
    expect(result.cappedGrantedMaxTokens.every((tokens) => tokens < 4_096)).toBe(true);
    expect(result.spentMicrocents).toBeGreaterThan(0);
    expect(result.spentMicrocents).toBeLessThanOrEqual(result.budgetMicrocents);
    expect(result.reservedMicrocents).toBe(0);
    expect(result.unguardedMicrocents).toBeGreaterThan(result.budgetMicrocents);
    expect(lines.some((line) => line.includes('BUDGET_EXCEEDED'))).toBe(true);
  }, 90_000);
});
