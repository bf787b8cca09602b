import type { ServiceTier } from './context.ts';
import { SERVICE_TIERS } from './context.ts';
import { BedrockError, validationError } from './errors.ts';
import { field } from './json.ts';

/** Account and region of profile ARNs built from a bare profile id. */
const DEFAULT_ARN_PREFIX = 'arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/';
const GEO_PREFIX = /^(us|us-gov|eu|apac|jp|au|ca|global)\./;

/**
 * Application inference profiles by ARN. Keys may be full profile ARNs or bare profile ids (which get
 * the `us-east-1`, account `123456789012` ARN); values are the model id each runs.
 */
export function profileTable(profiles: Record<string, string> | undefined): Map<string, string> {
  const table = new Map<string, string>();
  for (const [key, modelId] of Object.entries(profiles ?? {})) {
    table.set(key.startsWith('arn:') ? key : `${DEFAULT_ARN_PREFIX}${key}`, modelId);
  }
  return table;
}

/** The profile ARN a runtime model id or a GetInferenceProfile identifier names, if it is one. */
export function findProfile(table: Map<string, string>, identifier: string): string | undefined {
  if (table.has(identifier)) return identifier;
  for (const arn of table.keys()) {
    if (arn.endsWith(`/${identifier}`)) return arn;
  }
  return undefined;
}

/** GetInferenceProfile's JSON answer for `arn` (Bedrock control plane, restJson1). */
export function inferenceProfileBody(arn: string, modelId: string): Record<string, unknown> {
  const region = arn.split(':')[3] ?? 'us-east-1';
  const id = arn.slice(arn.lastIndexOf('/') + 1);
  const created = new Date(0).toISOString();
  return {
    inferenceProfileName: `emulated-${id}`,
    inferenceProfileArn: arn,
    inferenceProfileId: id,
    models: [{ modelArn: `arn:aws:bedrock:${region}::foundation-model/${modelId.replace(GEO_PREFIX, '')}` }],
    status: 'ACTIVE',
    type: 'APPLICATION',
    createdAt: created,
    updatedAt: created,
  };
}

/** `GET /inference-profiles/{id}`: the decoded identifier, else undefined. */
export function matchProfileRoute(method: string | undefined, url: string | undefined): string | undefined {
  if (method !== 'GET' || url === undefined) return undefined;
  const path = url.split('?')[0] ?? '';
  const match = /^\/inference-profiles\/([^/]+)$/.exec(path);
  if (match?.[1] === undefined) return undefined;
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return undefined;
  }
}

export function profileNotFound(identifier: string): BedrockError {
  return new BedrockError('ResourceNotFoundException', `Inference profile ${identifier} not found.`);
}

/**
 * The tier a request asked for: Converse bodies carry `serviceTier: { type }`, InvokeModel the
 * `X-Amzn-Bedrock-Service-Tier` header. An unknown tier is a ValidationException, as on Bedrock.
 */
export function readServiceTier(body: unknown, header: string | undefined): ServiceTier | undefined {
  const requested = header ?? field(field(body, 'serviceTier'), 'type');
  if (requested === undefined) return undefined;
  if (typeof requested !== 'string' || !SERVICE_TIERS.includes(requested as ServiceTier)) {
    throw validationError(
      `1 validation error detected: Value '${String(requested)}' at 'serviceTier.type' failed to satisfy constraint: Member must satisfy enum value set: [${SERVICE_TIERS.join(', ')}]`,
    );
  }
  return requested as ServiceTier;
}
