import type { Metadata } from '../protocol/types.ts';
import type { ResolvedModel } from './catalog.ts';

// Resolved models are shared and frozen, so each one's metadata is built once.
const byModel = new WeakMap<ResolvedModel, Metadata>();

/**
 * Commit metadata naming the prices a call was charged at: `price_version`, the service tier and
 * endpoint, and `priced_as` when an unknown model was priced by policy. One frozen object per
 * resolved model, since every commit sends it.
 */
export function priceMetadata(model: ResolvedModel): Metadata {
  let metadata = byModel.get(model);
  if (metadata === undefined) {
    const { priceVersion, pricedAs, dimensions } = model;
    metadata = {
      price_version: priceVersion,
      service_tier: dimensions.serviceTier,
      endpoint: dimensions.endpoint,
    };
    if (pricedAs !== undefined) metadata.priced_as = pricedAs;
    Object.freeze(metadata);
    byModel.set(model, metadata);
  }
  return metadata;
}
