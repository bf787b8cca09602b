import type { OperationContext, Reply } from './context.ts';
import { malformedInput, validationError } from './errors.ts';
import { FAMILIES } from './invoke-families.ts';
import { field, isObject } from './json.ts';
import { converseSegments } from './prompt.ts';
import { countInputTokens } from './tokens.ts';

/**
 * Handle CountTokens: `{ input: { converse } | { invokeModel: { body } } }` → `{ inputTokens }`.
 * Answers the total prompt tokens by the same rule as usage (cache splits are not applied).
 */
export function handleCountTokens(context: OperationContext): Reply {
  const input = field(context.body, 'input');
  const converse = field(input, 'converse');
  const invoke = field(input, 'invokeModel');
  let inputTokens: number;
  if (isObject(converse)) {
    inputTokens = countInputTokens(converseSegments(converse));
  } else if (isObject(invoke) && typeof invoke.body === 'string') {
    // restJson1 sends the InvokeModel body blob base64-encoded inside the JSON document.
    let body: unknown;
    try {
      body = JSON.parse(Buffer.from(invoke.body, 'base64').toString('utf8'));
    } catch {
      throw malformedInput('#: invalid JSON in input.invokeModel.body');
    }
    if (!isObject(body)) throw malformedInput('#: expected type: JSONObject');
    inputTokens = countInputTokens(FAMILIES[context.model.family].segments(body));
  } else {
    throw validationError('The input must contain either converse or invokeModel.');
  }
  context.record.inputTokens = inputTokens;
  return { kind: 'json', status: 200, body: { inputTokens } };
}
