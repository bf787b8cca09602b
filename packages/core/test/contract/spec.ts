import { readFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import formatsPlugin from 'ajv-formats';
import { parse } from 'yaml';
import { composeRuntimeSpec } from '../../../../scripts/compose-spec.ts';

/**
 * Loads the normative OpenAPI 3.1 spec (a vendored copy of `cycles-protocol-v0.yaml`, v0.1.25.16) and
 * validates values against its `components.schemas` with Ajv's JSON Schema 2020-12 dialect.
 */

/**
 * Where the vendored spec lives. Biome reformats its quoting, so it is not byte-identical to the
 * published file, but its parsed content must be: `spec.test.ts` pins a digest of it.
 */
export const SPEC_PATH = new URL('./cycles-protocol-v0.yaml', import.meta.url);

// Any absolute URI works as the document id: it only anchors the spec's `#/components/...` refs.
const SPEC_ID = 'https://cycles-guard.invalid/cycles-protocol-v0.yaml';

interface ParameterObject {
  name: string;
  in: string;
  schema?: Record<string, unknown>;
  $ref?: string;
}

interface OpenApiDocument {
  info: { version: string };
  components: {
    schemas: Record<string, Record<string, unknown>>;
    parameters: Record<string, ParameterObject>;
  };
  paths: Record<string, Record<string, { parameters?: ParameterObject[] }>>;
}

/** The parsed spec document. */
export const spec = parse(readFileSync(SPEC_PATH, 'utf8')) as OpenApiDocument;

// strict: false because OpenAPI adds keywords JSON Schema does not know (`example`, `x-*`); the
// schemas' own `additionalProperties: false` is what makes validation strict about fields.
const ajv = new Ajv2020({ strict: false, allErrors: true });
// ajv-formats is CommonJS: under NodeNext its default import is `module.exports`, whose `.default` is the plugin.
formatsPlugin.default(ajv);
// Responses may carry the v0.1.26 extension fields every implementation must accept (deny_detail,
// observe_mode, policy_keys): validated against the spec with them merged in (scripts/compose-spec.ts).
/** The runtime spec with the v0.1.26 protocol extensions merged in (what the wire types implement). */
export const composed = composeRuntimeSpec(parse) as unknown as OpenApiDocument;
ajv.addSchema({ $id: SPEC_ID, components: composed.components });

const compiled = new Map<string, ValidateFunction>();

function validatorFor(pointer: string): ValidateFunction {
  let validate = compiled.get(pointer);
  if (validate === undefined) {
    validate = ajv.compile({ $ref: `${SPEC_ID}#${pointer}` });
    compiled.set(pointer, validate);
  }
  return validate;
}

function describeErrors(errors: ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).map((error) => {
    const extra =
      error.keyword === 'additionalProperties' ? ` (${String(error.params.additionalProperty)})` : '';
    return `${error.instancePath || '/'} ${error.message ?? error.keyword}${extra}`;
  });
}

/** The outcome of one validation: `errors` is empty when `valid`. */
export interface SpecValidation {
  valid: boolean;
  errors: string[];
}

/** Validates `value` against `#/components/schemas/<schemaName>`, with every other component resolvable. */
export function validateAgainstSpec(schemaName: string, value: unknown): SpecValidation {
  if (composed.components.schemas[schemaName] === undefined)
    throw new Error(`No schema ${schemaName} in the spec`);
  const validate = validatorFor(`/components/schemas/${schemaName}`);
  const valid = validate(value) as boolean;
  return { valid, errors: describeErrors(validate.errors) };
}

/** Throws, listing every violation, unless `value` is valid against the named schema. */
export function assertValidAgainstSpec(schemaName: string, value: unknown): void {
  const { valid, errors } = validateAgainstSpec(schemaName, value);
  if (!valid) {
    throw new Error(`Not a valid ${schemaName}:\n  ${errors.join('\n  ')}\nvalue: ${JSON.stringify(value)}`);
  }
}

/** The query parameters an operation declares, by name (component `$ref`s resolved). */
export function queryParameters(path: string, method: string): Map<string, ParameterObject> {
  const operation = spec.paths[path]?.[method];
  if (operation === undefined) throw new Error(`No operation ${method.toUpperCase()} ${path} in the spec`);
  const byName = new Map<string, ParameterObject>();
  for (const raw of operation.parameters ?? []) {
    const parameter =
      raw.$ref === undefined
        ? raw
        : spec.components.parameters[raw.$ref.replace('#/components/parameters/', '')];
    if (parameter?.in === 'query') byName.set(parameter.name, parameter);
  }
  return byName;
}

/**
 * Validates a query string against an operation's declared query parameters: every name must be
 * declared, and every value (coerced per its schema type, arrays comma-split) must match its schema.
 */
export function validateQueryAgainstSpec(
  path: string,
  method: string,
  params: URLSearchParams,
): SpecValidation {
  const declared = queryParameters(path, method);
  const errors: string[] = [];
  for (const [name, raw] of params) {
    const parameter = declared.get(name);
    if (parameter?.schema === undefined) {
      errors.push(`${name} is not a declared query parameter`);
      continue;
    }
    const schema = parameter.schema;
    const value =
      schema.type === 'integer'
        ? Number(raw)
        : schema.type === 'boolean'
          ? raw === 'true'
            ? true
            : raw === 'false'
              ? false
              : raw
          : schema.type === 'array'
            ? raw.split(',')
            : raw;
    const key = `query ${method} ${path} ${name}`;
    let validate = compiled.get(key);
    if (validate === undefined) {
      // Parameter schemas may $ref components: point those refs into the registered spec document.
      validate = ajv.compile(withRefsTo(schema));
      compiled.set(key, validate);
    }
    if (!validate(value)) errors.push(...describeErrors(validate.errors).map((error) => `${name}: ${error}`));
  }
  return { valid: errors.length === 0, errors };
}

/** Rewrites local `#/...` refs to point into the registered spec document. */
function withRefsTo(schema: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(schema).replaceAll('"#/', `"${SPEC_ID}#/`)) as Record<string, unknown>;
}
