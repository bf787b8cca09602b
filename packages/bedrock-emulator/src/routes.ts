import { OPERATION_BY_PATH, type Operation } from './operations.ts';

/** A matched Bedrock Runtime route. */
export interface Route {
  operation: Operation;
  /** The `{modelId}` path segment, URL-decoded. */
  modelId: string;
}

/**
 * Match `POST /model/{modelId}/{operation}`. The model id arrives URL-encoded (`:` as `%3A`, and an
 * ARN's `/` as `%2F`), so it is split on raw slashes first and decoded afterwards.
 */
export function matchRoute(method: string | undefined, url: string | undefined): Route | undefined {
  if (method !== 'POST' || !url) return undefined;
  const path = url.split('?')[0] ?? '';
  const parts = path.split('/');
  if (parts.length !== 4 || parts[0] !== '' || parts[1] !== 'model') return undefined;
  const operation = OPERATION_BY_PATH[parts[3] ?? ''];
  if (!operation || !parts[2]) return undefined;
  try {
    return { operation, modelId: decodeURIComponent(parts[2]) };
  } catch {
    return undefined;
  }
}
