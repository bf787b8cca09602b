import { readFileSync } from 'node:fs';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import formatsPlugin from 'ajv-formats';
import { parse } from 'yaml';
import { schemaProblemsOf } from './schema-problems.ts';

// Validates responses of the governance plane's cross-plane operations (events, webhooks) against the
// pinned GOV spec v0.1.25, as contract.ts does for the runtime spec. PEXT v0.1.26 adds two event types
// (`reservation.observed_*`) to GOV `EventType`: added here, as PROTOCOL.md §8.6 says to.

const SPEC_URL = new URL('../../../core/test/contract/cycles-governance-admin-v0.1.25.yaml', import.meta.url);
const SPEC_ID = 'https://cycles-guard.invalid/cycles-governance-admin-v0.1.25.yaml';

interface Operation {
  operationId: string;
  'x-conformance'?: string;
  responses: Record<
    string,
    { content?: Record<string, { schema?: Record<string, unknown> & { $ref?: string } }> }
  >;
}

interface Spec {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, { enum?: string[] }> };
}

export const govSpec = parse(readFileSync(SPEC_URL, 'utf8')) as Spec;
govSpec.components.schemas.EventType!.enum!.push(
  'reservation.observed_denied',
  'reservation.observed_allowed',
);
const ajv = new Ajv2020({ strict: false, allErrors: true });
formatsPlugin.default(ajv);
ajv.addSchema({ $id: SPEC_ID, components: govSpec.components });
const validators = new Map<string, ValidateFunction>();

/** Every GOV operation: method, path template, id, conformance level. */
export const GOV_ROUTES = Object.entries(govSpec.paths).flatMap(([path, methods]) =>
  Object.entries(methods)
    .filter(([method]) => ['get', 'post', 'put', 'patch', 'delete'].includes(method))
    .map(([method, operation]) => ({
      method: method.toUpperCase(),
      path,
      pattern: new RegExp(`^${path.replace(/\{[^}]+\}/g, '[^/]+')}$`),
      operation,
    })),
);

/** The problems of `body` as GOV schema `schema` (empty if it conforms). */
export function govSchemaProblems(schema: string, body: unknown): string[] {
  let validate = validators.get(schema);
  if (validate === undefined) {
    validate = ajv.compile({ $ref: `${SPEC_ID}#/components/schemas/${schema}` });
    validators.set(schema, validate);
  }
  return schemaProblemsOf(validate, body);
}

/** Validates one GOV response by its route and status; returns the problems and the operation id. */
export function checkGovResponse(
  method: string,
  url: string,
  status: number,
  body: unknown,
): { id?: string; problems: string[] } {
  const path = new URL(url).pathname;
  const route = GOV_ROUTES.find((candidate) => candidate.method === method && candidate.pattern.test(path));
  if (route === undefined) return { problems: [] };
  const response = route.operation.responses[String(status)];
  const where = `${method} ${path} → ${status}`;
  if (response === undefined)
    return { id: route.operation.operationId, problems: [`${where}: status not declared`] };
  const declared = response.content?.['application/json']?.schema;
  const id = route.operation.operationId;
  if (declared === undefined)
    return { id, problems: body === undefined ? [] : [`${where}: a body where none is declared`] };
  const problems =
    declared.$ref === undefined
      ? inlineProblems(`${id}:${status}`, declared, body)
      : govSchemaProblems(declared.$ref.replace('#/components/schemas/', ''), body);
  return {
    id,
    problems: problems.map((problem) => `${where}: ${problem} in ${JSON.stringify(body).slice(0, 500)}`),
  };
}

/** Problems of `body` as an operation's inline response schema (its refs point into the spec). */
function inlineProblems(key: string, schema: Record<string, unknown>, body: unknown): string[] {
  let validate = validators.get(key);
  if (validate === undefined) {
    const rooted = JSON.parse(
      JSON.stringify(schema).replaceAll('"#/components/', `"${SPEC_ID}#/components/`),
    );
    validate = ajv.compile(rooted);
    validators.set(key, validate);
  }
  return validate(body)
    ? []
    : (validate.errors ?? []).map((error) => `${error.instancePath || '/'} ${error.message ?? ''}`);
}
