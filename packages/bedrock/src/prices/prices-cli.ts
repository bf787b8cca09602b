#!/usr/bin/env node
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parsePricesFile } from '@cycles-guard/core/llm';
import { fetchBedrockPriceList, loadPricing } from './fetch-price-list.ts';
import { pricesFromPriceList } from './price-list.ts';

const USAGE = `Usage: cycles-guard-prices --region <aws region> [--out prices.json] [--map "<product model name>=<model id>"]...
       [--endpoint <Price List API URL>] [--pricing-region us-east-1]

Builds a cycles-guard prices file from the AWS Price List API (GetProducts, service code AmazonBedrock)
for one region. Needs AWS credentials allowed pricing:GetProducts and @aws-sdk/client-pricing.
Load the file with createCycles({ pricesFile }) or CYCLES_PRICES_FILE; reload it with catalog.reload().`;

// No top-level await: tsup also builds this entry as CommonJS.
async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--') argv.shift();
  const { values } = parseArgs({
    args: argv,
    options: {
      region: { type: 'string' },
      out: { type: 'string' },
      map: { type: 'string', multiple: true },
      endpoint: { type: 'string' },
      'pricing-region': { type: 'string', default: 'us-east-1' },
      date: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help === true || values.region === undefined) {
    console.log(USAGE);
    if (values.help !== true) process.exitCode = 2;
    return;
  }
  const modelIds: Record<string, string> = {};
  for (const mapping of values.map ?? []) {
    const at = mapping.lastIndexOf('=');
    if (at <= 0) throw new TypeError(`--map "${mapping}" must be "<product model name>=<model id>"`);
    modelIds[mapping.slice(0, at).trim()] = mapping.slice(at + 1).trim();
  }
  const pricing = await loadPricing();
  // The Price List API answers in us-east-1 (also ap-south-1, eu-central-1); the prices are per `--region`.
  const client = new pricing.PricingClient({
    region: values['pricing-region'] ?? 'us-east-1',
    ...(values.endpoint === undefined ? {} : { endpoint: values.endpoint }),
  });
  const entries = await fetchBedrockPriceList(client, pricing, values.region);
  const date = values.date ?? new Date().toISOString().slice(0, 10);
  const conversion = pricesFromPriceList(entries, { region: values.region, date, modelIds });
  // Validated like any prices file before it is written: a file the catalog would refuse is never produced.
  parsePricesFile(conversion.file, 'generated prices');
  const text = `${JSON.stringify(conversion.file, null, 2)}\n`;
  if (values.out === undefined) process.stdout.write(text);
  else writeFileSync(values.out, text);
  const summary = [
    `${Object.keys(conversion.file.models).length} models priced from ${entries.length} products ` +
      `(${conversion.ratesRead} token rates, ${conversion.skipped} other products skipped)`,
  ];
  if (conversion.unmappedModels.length > 0) {
    summary.push(`no model id for: ${conversion.unmappedModels.join(', ')} (add --map "<name>=<model id>")`);
  }
  if (conversion.missingOutputCeiling.length > 0) {
    summary.push(
      `left out, output ceiling unknown: ${conversion.missingOutputCeiling.join(', ')} (price them in code with maxOutputTokens)`,
    );
  }
  console.error(summary.join('\n'));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
