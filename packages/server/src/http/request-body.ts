import { InvalidRequestError } from '@cycles-guard/core';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { REQUEST_SCHEMAS } from './request-schemas.generated.ts';
import { shownKey } from './shown-key.ts';

// Request bodies are validated against the spec's own schemas (generated into
// request-schemas.generated.ts), so a field the spec does not allow, at any depth, is refused with 400
// naming it: a client typo (`ttl` for `ttl_ms`) never goes unnoticed. Core validates again what the
// spec cannot express (scope patterns, lone surrogates, safe integers, JSON depth and size of open maps).

export type BodyOperation = keyof typeof REQUEST_SCHEMAS;

// Never coerce, strip or fill in: the ledger must see the body as sent. Formats (`int64`) are
// checked by core, which knows JavaScript's safe-integer range.
const OPTIONS = { strict: false, validateFormats: false, coerceTypes: false, useDefaults: false } as const;

/** First-error validators (the fast path) and, for refusals only, all-error validators to pick from. */
const fast = new Ajv({ ...OPTIONS, allErrors: false });
const thorough = new Ajv({ ...OPTIONS, allErrors: true, verbose: true });
const validators = new Map<BodyOperation, ValidateFunction>();
const diagnosers = new Map<BodyOperation, ValidateFunction>();

function compiled(ajv: Ajv, cache: Map<BodyOperation, ValidateFunction>, operation: BodyOperation) {
  let validate = cache.get(operation);
  if (validate === undefined) {
    validate = ajv.compile(REQUEST_SCHEMAS[operation] as object);
    cache.set(operation, validate);
  }
  return validate;
}

/** `/action/tags/3` → `action.tags[3]` (keys cut to 64 chars: they are the caller's bytes). */
function fieldOf(instancePath: string, child?: string): string {
  let field = '';
  const segments = instancePath === '' ? [] : instancePath.slice(1).split('/');
  if (child !== undefined) segments.push(child);
  for (const raw of segments) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (/^\d+$/.test(segment)) field += `[${segment}]`;
    else field += field === '' ? shownKey(segment) : `.${shownKey(segment)}`;
  }
  return field === '' ? 'body' : field;
}

/** Unknown fields first (the likeliest typo), then the first problem in the body's order. */
function rank(error: ErrorObject): number {
  return error.keyword === 'additionalProperties' ? 0 : 1;
}

/** Errors of one branch of an `anyOf` are reported as the `anyOf` itself (none of the branches matched). */
function inBranch(error: ErrorObject): boolean {
  return /\/(anyOf|oneOf)\/\d+\//.test(error.schemaPath);
}

function refusal(error: ErrorObject): InvalidRequestError {
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'additionalProperties') {
    const field = fieldOf(error.instancePath, String(params.additionalProperty));
    const allowed = Object.keys((error.parentSchema as { properties?: object })?.properties ?? {});
    return new InvalidRequestError(
      `${field} is not a field of this request: remove it (allowed: ${allowed.join(', ')})`,
      { details: { field } },
    );
  }
  if (error.keyword === 'required') {
    const field = fieldOf(error.instancePath, String(params.missingProperty));
    return new InvalidRequestError(`${field} is required`, { details: { field } });
  }
  const field = fieldOf(error.instancePath);
  if (field === 'body' && error.keyword === 'type') {
    return new InvalidRequestError('The request body must be a JSON object', { details: { field } });
  }
  if (error.keyword === 'anyOf') {
    const branches = (error.schema ?? []) as { required?: string[] }[];
    const names = branches.flatMap((branch) => branch.required ?? []);
    return new InvalidRequestError(`${field} must have at least one of ${names.join(', ')}`, {
      details: { field },
    });
  }
  const allowed = Array.isArray(params.allowedValues) ? `: one of ${params.allowedValues.join(', ')}` : '';
  return new InvalidRequestError(`${field} ${error.message ?? 'is invalid'}${allowed}`, {
    details: { field },
  });
}

/** Throws 400 INVALID_REQUEST, naming the field, unless `body` is valid for the operation per the spec. */
export function assertValidBody(
  operation: BodyOperation,
  body: unknown,
): asserts body is Record<string, unknown> {
  if (compiled(fast, validators, operation)(body)) return;
  const diagnose = compiled(thorough, diagnosers, operation);
  diagnose(body);
  const errors = (diagnose.errors ?? [])
    .filter((error) => !inBranch(error))
    .sort((a, b) => rank(a) - rank(b));
  throw refusal(errors[0]!);
}
