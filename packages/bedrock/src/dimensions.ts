import type { PriceDimensions, ServiceTier } from '@cycles-guard/core/llm';
import { asObject, type JsonObject } from './wire/json.ts';

// What a Bedrock request sets that changes its price, read the same way for the hold and the commit.

/** True when a cache point among `blocks` asks for a 1-hour TTL (Converse `cachePoint`, Anthropic `cache_control`). */
function oneHourIn(blocks: unknown): boolean {
  if (!Array.isArray(blocks)) return false;
  for (const block of blocks) {
    const object = asObject(block);
    if (object === undefined) continue;
    const marker = asObject(object.cachePoint) ?? asObject(object.cache_control);
    if (marker?.ttl === '1h') return true;
  }
  return false;
}

/** True when any cache point of the request (system, tools, message contents) asks for a 1-hour TTL. */
function hasOneHourCache(request: JsonObject): boolean {
  if (oneHourIn(request.system) || oneHourIn(asObject(request.toolConfig)?.tools ?? request.tools))
    return true;
  const messages = request.messages;
  if (!Array.isArray(messages)) return false;
  for (const message of messages) {
    if (oneHourIn(asObject(message)?.content)) return true;
  }
  return false;
}

/**
 * The request's pricing dimensions: `serviceTier` (Converse `{ type }`, InvokeModel a string), the
 * cache-write TTL of its cache points (Converse input or the InvokeModel body) and the source region.
 * Undefined when none is set, so the common call resolves its price from the cache by id alone.
 */
export function requestDimensions(
  input: JsonObject,
  body: JsonObject | undefined,
  region: string | undefined,
): PriceDimensions | undefined {
  const tier = body === undefined ? asObject(input.serviceTier)?.type : input.serviceTier;
  const oneHour = hasOneHourCache(body ?? input);
  if (tier === undefined && !oneHour && region === undefined) return undefined;
  const dimensions: PriceDimensions = {};
  // An invalid tier is passed on: the catalog refuses it with a typed error before anything is sent.
  if (tier !== undefined) dimensions.serviceTier = tier as ServiceTier;
  if (oneHour) dimensions.cacheTtl = '1h';
  if (region !== undefined) dimensions.region = region;
  return dimensions;
}
