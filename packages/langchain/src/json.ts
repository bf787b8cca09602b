/** A plain JSON object, narrowed from `unknown`. */
export type JsonObject = Record<string, unknown>;

/** The value as an object, or undefined when it is not a plain object. */
export function asObject(value: unknown): JsonObject | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as JsonObject)
    : undefined;
}

/** A non-negative integer field, or undefined. */
export function asCount(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}
