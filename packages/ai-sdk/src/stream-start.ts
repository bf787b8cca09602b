import { budgetErrorResponse } from '@cycles-guard/core';
import type { BudgetErrorResponseOptions } from '@cycles-guard/core/llm';

/** What these helpers read of a `streamText` result (ai@6 and ai@7 alike). */
export interface StreamTextLike {
  readonly fullStream: AsyncIterable<{ type: string; error?: unknown }>;
}

const PREAMBLE = new Set(['start', 'start-step']);

/**
 * Waits until the first step of a `streamText` result is under way (its first output part arrived), or
 * rejects with that step's error (a `BudgetExceededError` denial, an unreachable ledger) before a byte
 * was written, so the route can still answer 429/503. It reads its own branch of `fullStream` and drops
 * it, so the response pipes the whole stream from the start. Pass `onError: () => {}` to `streamText`,
 * or the AI SDK logs the denial too. Errors of later steps (after tool calls) can only arrive in the
 * stream: see {@link cyclesErrorText}.
 */
export async function streamStarted(result: StreamTextLike): Promise<void> {
  for await (const part of result.fullStream) {
    if (part.type === 'error') throw part.error;
    if (!PREAMBLE.has(part.type)) return;
  }
}

/**
 * For a web route handler: the budget answer (429/402 JSON with `Retry-After`, 503 when the ledger is
 * unreachable) when the first step failed with a cycles-guard error, `undefined` once the stream is
 * under way. Other errors are thrown.
 * `return (await budgetDeniedResponse(result)) ?? result.toUIMessageStreamResponse({ onError: cyclesErrorText })`
 */
export async function budgetDeniedResponse(
  result: StreamTextLike,
  options: BudgetErrorResponseOptions = {},
): Promise<Response | undefined> {
  try {
    await streamStarted(result);
    return undefined;
  } catch (error) {
    const mapped = budgetErrorResponse(error, options);
    if (mapped === undefined) throw error;
    return new Response(JSON.stringify(mapped.body), { status: mapped.status, headers: mapped.headers });
  }
}

/**
 * `onError` for `toUIMessageStreamResponse` / `pipeUIMessageStreamToResponse`: a cycles-guard error
 * (e.g. a later step's denial) reaches the client as its JSON body (`{"error":"BUDGET_EXCEEDED",…}`)
 * in the stream's error part; any other error as a generic message, as the AI SDK does by default.
 */
export function cyclesErrorText(error: unknown): string {
  const mapped = budgetErrorResponse(error);
  return mapped === undefined ? 'An error occurred.' : JSON.stringify(mapped.body);
}
