import { describe, expect, it } from 'vitest';
import { runDemo } from './scenario.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

describe('runaway-agent demo', () => {
  it('stops the loop within the budget, and the same loop unguarded would cost more', async () => {
    // The CLI's scenario with a shorter latency and a $0.30 budget, so a busy CI machine still exhausts
    // the budget well before the loop's (longer) schedule ends.
    const result = await runDemo({
      latency: { firstByteMs: 30, perChunkMs: 2 },
      budgetMicrocents: 30_000_000,
      durationMs: 60_000,
    });
    expect(result.spentMicrocents).toBeGreaterThan(0);
    expect(result.spentMicrocents).toBeLessThanOrEqual(result.budgetMicrocents);
    expect(result.reservedMicrocents).toBe(0);
    expect(result.denied).toBeGreaterThan(0);
    expect(result.stoppedByGuard).toBe(true);
    expect(result.elapsedMs).toBeLessThan(60_000);
    expect(result.capped).toBeGreaterThanOrEqual(0);
    expect(result.allowed + result.denied).toBe(result.calls);
    expect(result.unguardedMicrocents).toBeGreaterThan(result.budgetMicrocents);
  }, 90_000);
});
