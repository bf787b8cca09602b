import type { BedrockEmulator } from '@cycles-guard/bedrock-emulator';
import type { Cycles, Ledger } from '@cycles-guard/core';

/**
 * Runs `workers` agents to their end, then reads tenant `acme`'s spend from the ledger (the truth;
 * per-call charges only drive progress lines) once the emulator is idle. Always stops `ticker` and
 * closes the emulator and the guard.
 */
export async function runAgents(
  workers: number,
  runAgent: (index: number) => Promise<void>,
  parts: {
    emulator: BedrockEmulator;
    ledger: Ledger;
    cycles: Cycles;
    ticker: ReturnType<typeof setInterval>;
  },
): Promise<{ spent: number; reserved: number }> {
  try {
    await Promise.all(Array.from({ length: workers }, (_, index) => runAgent(index)));
    await parts.emulator.waitForIdle();
    const row = await parts.ledger.getLedger('tenant:acme', 'USD_MICROCENTS');
    return { spent: row?.spent ?? 0, reserved: row?.reserved ?? 0 };
  } finally {
    clearInterval(parts.ticker);
    await parts.emulator.close();
    await parts.cycles.close();
  }
}
