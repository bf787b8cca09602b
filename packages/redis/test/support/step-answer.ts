import { CyclesError } from '@cycles-guard/core';

// The answer of one random step on a ledger, as data two ledgers' runs can be compared by.

/** A ledger call's result, or the code, message and details of the CyclesError it threw. */
export type StepAnswer = { ok: unknown } | { error: string; message: string; details: unknown };

/**
 * Runs `action` and answers its result or its refusal; a reservation id it returns for the first time
 * is appended to `ids` (later steps name holds by index in it). Any other error fails the test.
 */
export async function answerOf(action: () => Promise<unknown>, ids: string[]): Promise<StepAnswer> {
  try {
    const result = await action();
    const id = (result as { reservationId?: string } | undefined)?.reservationId;
    if (id !== undefined && !ids.includes(id)) ids.push(id);
    return { ok: result };
  } catch (error) {
    if (!CyclesError.isInstance(error)) throw error;
    return { error: error.code, message: error.message, details: error.details };
  }
}

/** The reservation a step names by number `n` among `known` (a missing id when there is none yet). */
export function holdAt(known: string[], n: number): string {
  return known[n % Math.max(known.length, 1)] ?? 'rsv_missing';
}
