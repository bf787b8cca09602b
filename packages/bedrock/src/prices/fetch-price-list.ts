/** Sends a `GetProductsCommand`; a `PricingClient` of `@aws-sdk/client-pricing` fits. */
export interface PricingClientLike {
  send(command: never): Promise<unknown>;
}

interface PricingModule {
  PricingClient: new (config: { region: string; endpoint?: string }) => PricingClientLike;
  GetProductsCommand: new (input: {
    ServiceCode: string;
    Filters: { Type: 'TERM_MATCH'; Field: string; Value: string }[];
    FormatVersion: string;
    NextToken?: string;
    MaxResults?: number;
  }) => unknown;
}

/** Loads `@aws-sdk/client-pricing` (an optional peer of this package, needed by the prices CLI only). */
export async function loadPricing(): Promise<PricingModule> {
  try {
    return (await import('@aws-sdk/client-pricing')) as unknown as PricingModule;
  } catch (error) {
    throw new TypeError(
      'cycles-guard-prices needs @aws-sdk/client-pricing: install it next to @cycles-guard/bedrock ' +
        '(npm i @aws-sdk/client-pricing)',
      { cause: error },
    );
  }
}

/** Most pages read before giving up (a NextToken loop must not run forever). */
const MAX_PAGES = 1000;

/**
 * Every AmazonBedrock product of `region` from the Price List API (GetProducts, format aws_v1,
 * following NextToken), as the JSON strings it returns.
 */
export async function fetchBedrockPriceList(
  client: PricingClientLike,
  pricing: Pick<PricingModule, 'GetProductsCommand'>,
  region: string,
): Promise<string[]> {
  const entries: string[] = [];
  let nextToken: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const command = new pricing.GetProductsCommand({
      ServiceCode: 'AmazonBedrock',
      Filters: [{ Type: 'TERM_MATCH', Field: 'regionCode', Value: region }],
      FormatVersion: 'aws_v1',
      MaxResults: 100,
      ...(nextToken === undefined ? {} : { NextToken: nextToken }),
    });
    const output = (await client.send(command as never)) as { PriceList?: unknown[]; NextToken?: string };
    for (const item of output.PriceList ?? []) {
      // PriceList items are JSON strings on the wire; the SDK hands them over as strings or boxed
      // (LazyJsonString) strings, and a parsed object is turned back into its JSON.
      entries.push(typeof item === 'string' || item instanceof String ? String(item) : JSON.stringify(item));
    }
    nextToken = output.NextToken;
    if (nextToken === undefined || nextToken === '') return entries;
  }
  throw new Error(`GetProducts returned more than ${MAX_PAGES} pages for ${region}: stopped`);
}
