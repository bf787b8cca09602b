// Runs one operation and sorts its answer: a value, a typed refusal, or an untyped throw.

import { CyclesError, type ErrorCode } from './packages.ts';

export type Answer<T> =
  | { ok: true; value: T }
  | { ok: false; code: ErrorCode; status: number; error: CyclesError }
  | { ok: false; code: 'UNTYPED'; status: 0; error: unknown };

export async function answerOf<T>(operation: () => Promise<T>): Promise<Answer<T>> {
  try {
    return { ok: true, value: await operation() };
  } catch (error) {
    if (CyclesError.isInstance(error)) return { ok: false, code: error.code, status: error.status, error };
    return { ok: false, code: 'UNTYPED', status: 0, error };
  }
}

/** A short description of an untyped throw (its class and the start of its message). */
export function describeError(error: unknown): string {
  const text = error instanceof Error ? `${error.constructor.name}: ${error.message}` : String(error);
  return text.replace(/\s+/g, ' ').slice(0, 160);
}
