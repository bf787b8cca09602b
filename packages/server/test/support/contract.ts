import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import formatsPlugin from 'ajv-formats';
import { parse } from 'yaml';
import { composeRuntimeSpec } from '../../../../scripts/compose-spec.ts';
import { schemaProblemsOf } from './schema-problems.ts';

// Validates every response the server sends in a test against the normative OpenAPI spec (the repo's
// spec/ copy, with the v0.1.26 extensions it must accept merged in: deny_detail, observe_mode,
// policy_keys), and records which spec operations were exercised.

const SPEC_ID = 'https://cycles-guard.invalid/cycles-protocol-v0.yaml';

interface Operation {
  operationId: string;
  responses: Record<string, { $ref?: string; content?: Record<string, { schema?: { $ref?: string } }> }>;
}

interface Spec {
  paths: Record<string, Record<string, Operation>>;
  components: {
    schemas: Record<string, unknown>;
    responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }>;
  };
}

const spec = composeRuntimeSpec(parse) as unknown as Spec;
const ajv = new Ajv2020({ strict: false, allErrors: true });
formatsPlugin.default(ajv);
ajv.addSchema({ $id: SPEC_ID, components: spec.components });
const validators = new Map<string, ValidateFunction>();

function validatorFor(schemaName: string): ValidateFunction {
  let validate = validators.get(schemaName);
  if (validate === undefined) {
    validate = ajv.compile({ $ref: `${SPEC_ID}#/components/schemas/${schemaName}` });
    validators.set(schemaName, validate);
  }
  return validate;
}

const ROUTES = Object.entries(spec.paths).flatMap(([path, methods]) =>
  Object.entries(methods)
    .filter(([method]) => ['get', 'post', 'put', 'patch', 'delete'].includes(method))
    .map(([method, operation]) => ({
      method: method.toUpperCase(),
      pattern: new RegExp(`^${path.replace(/\./g, '\\.').replace(/\{[^}]+\}/g, '[^/]+')}$`),
      operation,
    })),
);

/** Every operation the spec declares. */
export const SPEC_OPERATIONS: readonly string[] = ROUTES.map((route) => route.operation.operationId);

/**
 * Statuses the HTTP layer answers before the protocol sees a request (wrong method, body or URI too
 * large, wrong media type, headers too large). The spec declares none of them, but their bodies must
 * still be its ErrorResponse.
 */
export const HTTP_LAYER_STATUSES: ReadonlySet<number> = new Set([405, 408, 413, 414, 415, 431]);

/** The schema name a response of `operation` with `status` must match. */
function schemaFor(operation: Operation, status: number): string | undefined {
  if (HTTP_LAYER_STATUSES.has(status)) return 'ErrorResponse';
  const response = operation.responses[String(status)];
  if (response === undefined) return undefined;
  const content =
    response.$ref === undefined
      ? response.content
      : spec.components.responses[response.$ref.replace('#/components/responses/', '')]?.content;
  return content?.['application/json']?.schema?.$ref?.replace('#/components/schemas/', '');
}

/** What the recorder saw: violations (empty when everything conforms) and exercised operations. */
export interface ContractRecorder {
  readonly violations: string[];
  readonly exercised: Map<string, Set<number>>;
  readonly checked: number;
  /** A fetch that validates each protocol response it returns. */
  fetch: typeof fetch;
}

/** The problems of `body` as the spec's `schema` (empty if it conforms). */
export function schemaProblems(schema: string, body: unknown): string[] {
  const validate = validatorFor(schema);
  return schemaProblemsOf(validate, body);
}

/** Validates one response; returns the problems (empty if it conforms). */
export function checkResponse(
  method: string,
  url: string,
  status: number,
  headers: Headers,
  body: unknown,
  exercised?: Map<string, Set<number>>,
): string[] {
  const path = new URL(url).pathname;
  const route = ROUTES.find((candidate) => candidate.method === method && candidate.pattern.test(path));
  if (route === undefined) return [];
  const id = route.operation.operationId;
  const statuses = exercised?.get(id) ?? new Set<number>();
  statuses.add(status);
  exercised?.set(id, statuses);
  const problems: string[] = [];
  const where = `${method} ${path} → ${status}`;
  if (!headers.get('x-request-id')) problems.push(`${where}: no X-Request-Id`);
  if (!/^[0-9a-f]{32}$/.test(headers.get('x-cycles-trace-id') ?? ''))
    problems.push(`${where}: no X-Cycles-Trace-Id`);
  // The spec's common rules allow 429 LIMIT_EXCEEDED (throttling) on any operation, with Retry-After
  // and X-RateLimit-Reset; operations do not list it one by one.
  const throttled = status === 429 && (body as { error?: string } | undefined)?.error === 'LIMIT_EXCEEDED';
  if (throttled && (!headers.get('retry-after') || !headers.get('x-ratelimit-reset')))
    problems.push(`${where}: 429 without Retry-After and X-RateLimit-Reset`);
  const schema = throttled ? 'ErrorResponse' : schemaFor(route.operation, status);
  if (schema === undefined) {
    problems.push(`${where}: status not declared by ${id}`);
    return problems;
  }
  const errors = schemaProblems(schema, body);
  if (errors.length > 0) {
    problems.push(`${where}: not a valid ${schema}: ${errors.join('; ')} in ${JSON.stringify(body)}`);
  }
  if (schema === 'ErrorResponse') {
    const error = body as { request_id?: string; trace_id?: string };
    if (error.request_id !== headers.get('x-request-id'))
      problems.push(`${where}: request_id ≠ X-Request-Id`);
    if (error.trace_id !== headers.get('x-cycles-trace-id'))
      problems.push(`${where}: trace_id ≠ X-Cycles-Trace-Id`);
  }
  return problems;
}

/** A recorder whose `fetch` validates every protocol response (admin and health responses pass through). */
export function createContractRecorder(): ContractRecorder {
  const violations: string[] = [];
  const exercised = new Map<string, Set<number>>();
  let checked = 0;
  const recordingFetch: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const method = (init?.method ?? 'GET').toUpperCase();
    const text = await response.clone().text();
    let body: unknown;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      body = text;
    }
    const problems = checkResponse(method, url, response.status, response.headers, body, exercised);
    if (new URL(url).pathname.startsWith('/v1/') && !new URL(url).pathname.startsWith('/v1/admin')) checked++;
    violations.push(...problems);
    return response;
  };
  return {
    violations,
    exercised,
    get checked() {
      return checked;
    },
    fetch: recordingFetch,
  };
}
