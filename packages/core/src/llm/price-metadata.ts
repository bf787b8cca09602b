import type { Metadata } from '../protocol/types.ts';
import type { ResolvedModel } from './catalog.ts';

/** Most distinct price metadata objects remembered (one per version, basis and tier in practice). */
const MAX_REMEMBERED = 100;
const remembered = new Map<string, Metadata>();

/**
 * Commit metadata naming the prices a call was charged at: `price_version`, the service tier and
 * endpoint, and `priced_as` when an unknown model was priced by policy. One frozen object per
 * combination, since every commit sends it.
 */
export function priceMetadata(model: ResolvedModel): Metadata {
  const { priceVersion, pricedAs, dimensions } = model;
  const key = `${priceVersion}\u0000${pricedAs ?? ''}\u0000${dimensions.serviceTier}\u0000${dimensions.endpoint}`;
  let metadata = remembered.get(key);
  if (metadata === undefined) {
    metadata = {
      price_version: priceVersion,
      service_tier: dimensions.serviceTier,
      endpoint: dimensions.endpoint,
    };
    if (pricedAs !== undefined) metadata.priced_as = pricedAs;
    Object.freeze(metadata);
    if (remembered.size >= MAX_REMEMBERED) remembered.clear();
    remembered.set(key, metadata);
  }
  return metadata;
}
