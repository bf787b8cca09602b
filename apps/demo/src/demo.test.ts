import { describe, expect, it } from 'vitest';
import { runDemo } from './scenario.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

describe('runaway-agent demo', () => {
  it('stops the loop within the budget, and the same loop unguarded would cost more', async () => {
    // The CLI's --json scenario with a shorter latency, so the test stays quick.
    const result = await runDemo({ latency: { firstByteMs: 30, perChunkMs: 2 }, durationMs: 20_000 });
    expect(result.spentMicrocents).toBeGreaterThan(0);
    expect(result.spentMicrocents).toBeLessThanOrEqual(result.budgetMicrocents);
    expect(result.reservedMicrocents).toBe(0);
    expect(result.denied).toBeGreaterThan(0);
    expect(result.stoppedByGuard).toBe(true);
    expect(result.elapsedMs).toBeLessThan(20_000);
    expect(result.capped).toBeGreaterThanOrEqual(0);
    expect(result.allowed + result.denied).toBe(result.calls);
    expect(result.unguardedMicrocents).toBeGreaterThan(result.budgetMicrocents);
  }, 30_000);
});
