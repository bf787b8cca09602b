import { malformedInput, validationError } from './errors.ts';
import { defaultMaxTokens, type ModelInfo } from './models.ts';

/** Bedrock's wording when maxTokens is above the model's output limit (Converse and most families). */
export function maxTokensTooLargeMessage(limit: number): string {
  return (
    `The maximum tokens you requested exceeds the model limit of ${limit}. ` +
    `Try again with a maximum tokens value that is lower than ${limit}.`
  );
}

/**
 * Validate a received maxTokens value and return the one the generator must honour
 * (the received value, or the model default when absent).
 */
export function effectiveMaxTokens(
  received: unknown,
  fieldName: string,
  model: ModelInfo,
  tooLargeMessage: string = maxTokensTooLargeMessage(model.maxOutputTokens),
): number {
  if (received === undefined || received === null) return defaultMaxTokens(model);
  if (typeof received !== 'number' || !Number.isInteger(received)) {
    throw malformedInput(
      `#/${fieldName.replaceAll('.', '/')}: expected type: Integer, found: ${typeof received}`,
    );
  }
  if (received < 1) {
    throw validationError(
      `1 validation error detected: Value '${received}' at '${fieldName}' failed to satisfy constraint: ` +
        'Member must have value greater than or equal to 1',
    );
  }
  if (received > model.maxOutputTokens) throw validationError(tooLargeMessage);
  return received;
}

/** Validate an Anthropic-style thinking block and return its budget, or undefined when thinking is off. */
export function thinkingBudget(thinking: unknown, maxTokens: number): number | undefined {
  if (typeof thinking !== 'object' || thinking === null) return undefined;
  const { type, budget_tokens: budget } = thinking as { type?: unknown; budget_tokens?: unknown };
  if (type !== 'enabled') return undefined;
  if (typeof budget !== 'number' || !Number.isInteger(budget)) {
    throw validationError('thinking.enabled.budget_tokens: Field required');
  }
  if (budget < 1024)
    throw validationError('thinking.enabled.budget_tokens: Input should be greater than or equal to 1024');
  if (maxTokens <= budget) {
    throw validationError('`max_tokens` must be greater than `thinking.budget_tokens`.');
  }
  return budget;
}
