import { invalid } from '../protocol/errors.ts';
import type { LlmCallOptions } from './llm-call.ts';

// The shape checks of `beginLlmCall` options that JavaScript callers (and untyped request bodies) can
// get wrong: without them a number model or a non-string text threw a bare TypeError, or was counted
// as 0 tokens, so the hold was too small. Run before any hold is taken.

const INPUT_SHAPE =
  'a string or { system?: string[], messages?: { role: string, content: string[] }[], tools?: string[] }';

/** Throws InvalidRequestError naming the first field of `options` that has the wrong type. */
export function checkCallInput(options: LlmCallOptions): void {
  const { model, input } = options as { model: unknown; input: unknown };
  if (typeof model !== 'string' || model.trim() === '') {
    throw invalid(
      'model',
      `must be a non-empty string, got ${describe(model)}`,
      'pass a Bedrock model id, ARN or inference profile',
    );
  }
  if (input === undefined || typeof input === 'string') return;
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw invalid('input', `must be ${INPUT_SHAPE}, got ${describe(input)}`);
  }
  const { system, messages, tools } = input as Record<string, unknown>;
  checkTexts('input.system', system);
  checkTexts('input.tools', tools);
  if (messages === undefined) return;
  if (!Array.isArray(messages))
    throw invalid('input.messages', `must be an array, got ${describe(messages)}`);
  for (let index = 0; index < messages.length; index++) {
    const message = messages[index] as { role?: unknown; content?: unknown } | null;
    const field = `input.messages[${index}]`;
    if (typeof message !== 'object' || message === null) {
      throw invalid(field, `must be { role: string, content: string[] }, got ${describe(message)}`);
    }
    if (typeof message.role !== 'string')
      throw invalid(`${field}.role`, `must be a string, got ${describe(message.role)}`);
    checkTexts(`${field}.content`, message.content, true);
  }
}

/** An optional (or, with `required`, mandatory) array of strings. */
function checkTexts(field: string, value: unknown, required = false): void {
  if (value === undefined && !required) return;
  if (!Array.isArray(value)) throw invalid(field, `must be an array of strings, got ${describe(value)}`);
  for (let index = 0; index < value.length; index++) {
    if (typeof value[index] !== 'string') {
      throw invalid(`${field}[${index}]`, `must be a string, got ${describe(value[index])}`);
    }
  }
}

/** A short, non-echoing description of a wrong value (its type, never its content). */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? 'an empty string' : `a ${typeof value}`;
}
