import { InvalidRequestError } from '@cycles-guard/core';
import { SUBJECT_LEVELS } from '@cycles-guard/core/protocol';
import type { FastifyRequest } from 'fastify';

/**
 * The query parameters each operation reads, from the spec's parameter definitions: the list and
 * balance reads filter by every level of a subject.
 */
export const QUERY_PARAMS = {
  listReservations: [
    'idempotency_key',
    'status',
    ...SUBJECT_LEVELS,
    'from',
    'to',
    'expires_from',
    'expires_to',
    'finalized_from',
    'finalized_to',
    'sort_by',
    'sort_dir',
    'include',
    'limit',
    'cursor',
  ],
  getBalances: [...SUBJECT_LEVELS, 'include_children', 'limit', 'cursor'],
  adminBudget: ['scope', 'unit'],
  listEvents: [
    'tenant_id',
    'event_type',
    'category',
    'scope',
    'correlation_id',
    'trace_id',
    'request_id',
    'from',
    'to',
    'search',
    'sort_by',
    'sort_dir',
    'limit',
    'cursor',
  ],
  listWebhookDeliveries: ['status', 'from', 'to', 'limit', 'cursor'],
} as const;

/** Parameters that may repeat (`include=a&include=b`, the exploded form). */
const REPEATABLE: ReadonlySet<string> = new Set(['include']);

const camel = (name: string) => name.replace(/_([a-z])/g, (_match, letter: string) => letter.toUpperCase());

/** Likely misspellings of each known parameter (`from_ms`, `fromMs`, `sortBy`, ...) → the parameter. */
function misspellings(known: readonly string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const name of known) {
    for (const alias of [`${name}_ms`, camel(name), `${camel(name)}Ms`]) {
      if (!known.includes(alias)) map.set(alias, name);
    }
  }
  if (known.includes('cursor')) for (const alias of ['next_cursor', 'nextCursor']) map.set(alias, 'cursor');
  return map;
}

const MISSPELLINGS = new Map(
  Object.entries(QUERY_PARAMS).map(([operation, known]) => [operation, misspellings(known)] as const),
);

/** The request's query string as URLSearchParams (what core's query mappers read). */
export function queryOf(request: FastifyRequest): URLSearchParams {
  const index = request.url.indexOf('?');
  return new URLSearchParams(index === -1 ? '' : request.url.slice(index + 1));
}

/**
 * Refuses query parameters that are surely mistakes, naming them: a known parameter sent twice (which
 * value counts would be a guess), and a misspelling of a known one (`from_ms` for `from`), which would
 * otherwise be ignored silently. Other unknown parameters are ignored, as the spec requires of its
 * additive parameters, unless `strict` (our own admin API, which has no such guarantee).
 */
export function checkQuery(
  params: URLSearchParams,
  operation: keyof typeof QUERY_PARAMS,
  strict = false,
): void {
  const known: readonly string[] = QUERY_PARAMS[operation];
  const seen = new Set<string>();
  for (const name of params.keys()) {
    if (known.includes(name)) {
      if (seen.has(name) && !REPEATABLE.has(name)) {
        throw new InvalidRequestError(`${name} is given more than once: send it once`, {
          details: { field: name },
        });
      }
      seen.add(name);
      continue;
    }
    const meant = MISSPELLINGS.get(operation)?.get(name);
    if (meant !== undefined) {
      throw new InvalidRequestError(`${name} is not a parameter of this operation: use ${meant}`, {
        details: { field: name },
      });
    }
    if (strict) {
      const field = name.length > 64 ? `${name.slice(0, 64)}…` : name;
      throw new InvalidRequestError(
        `${field} is not a parameter of this operation: use ${known.join(', ')}`,
        {
          details: { field },
        },
      );
    }
  }
}
