import type { ValidateFunction } from 'ajv/dist/2020.js';

/** What `validate` finds wrong with `body`, one line a problem (empty if it conforms). */
export function schemaProblemsOf(validate: ValidateFunction, body: unknown): string[] {
  if (validate(body)) return [];
  return (validate.errors ?? []).map(
    (error) =>
      `${error.instancePath || '/'} ${error.message ?? ''}${
        error.keyword === 'additionalProperties' ? ` (${String(error.params.additionalProperty)})` : ''
      }`,
  );
}
