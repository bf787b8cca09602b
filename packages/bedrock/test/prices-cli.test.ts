import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GetProductsCommand, PricingClient } from '@aws-sdk/client-pricing';
import { createCycles } from '@cycles-guard/core';
import { parsePricesFile } from '@cycles-guard/core/llm';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchBedrockPriceList } from '../src/prices/fetch-price-list.ts';
import { pricesFromPriceList } from '../src/prices/price-list.ts';

// The Price List API cannot be reached here: these tests replay recorded GetProducts pages in the
// API's documented format (awsJson1_1, FormatVersion aws_v1, PriceList of JSON strings, NextToken)
// from a local server, through the real PricingClient.

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const fixture = (page: number) =>
  readFileSync(
    new URL(`./__fixtures__/price-list/get-products-us-east-1-page-${page}.json`, import.meta.url),
    'utf8',
  );

let server: Server;
let url: string;
const requests: { target: string | undefined; body: Record<string, unknown> }[] = [];

beforeAll(async () => {
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
      requests.push({ target: request.headers['x-amz-target'] as string | undefined, body });
      const page = body.NextToken === undefined ? 1 : 2;
      response.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
      response.end(fixture(page));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const pricingClient = () =>
  new PricingClient({
    region: 'us-east-1',
    endpoint: url,
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' },
    requestHandler: new NodeHttpHandler(),
    maxAttempts: 1,
  });

describe('prices from the AWS Price List API (recorded responses)', () => {
  it('pages through GetProducts for AmazonBedrock in one region', async () => {
    requests.length = 0;
    const entries = await fetchBedrockPriceList(pricingClient(), { GetProductsCommand }, 'us-east-1');
    expect(entries).toHaveLength(23);
    expect(requests.map((request) => request.target)).toEqual([
      'AWSPriceListService.GetProducts',
      'AWSPriceListService.GetProducts',
    ]);
    expect(requests[0]?.body).toMatchObject({
      ServiceCode: 'AmazonBedrock',
      FormatVersion: 'aws_v1',
      Filters: [{ Type: 'TERM_MATCH', Field: 'regionCode', Value: 'us-east-1' }],
    });
    expect(requests[1]?.body.NextToken).toBe('eyJwYWdlIjoyfQ==');
  });

  it('builds a valid prices file: every rate, tier and long-context percent, the higher of duplicates', async () => {
    const entries = await fetchBedrockPriceList(pricingClient(), { GetProductsCommand }, 'us-east-1');
    const conversion = pricesFromPriceList(entries, {
      region: 'us-east-1',
      date: '2026-12-06',
      modelIds: { 'Gemma 3 27B IT': 'google.gemma-3-27b-it', 'Mystery 1': 'acme.mystery-v1' },
    });
    const { file } = conversion;
    expect(file.version).toBe('aws-price-list-us-east-1-2026-12-06');
    expect(file.models['anthropic.claude-sonnet-4-6']).toEqual({
      input: 3.3,
      output: 16.5,
      cacheRead: 0.33,
      cacheWrite: 4.125,
      cacheWrite1h: 6.6,
      global: { input: 3, output: 15 },
      longContext: { aboveInputTokens: 200_000, inputPercent: 200, outputPercent: 150 },
      source: 'AWS Price List API GetProducts AmazonBedrock us-east-1 2026-12-06',
      asOf: '2026-12-06',
      verified: true,
    });
    expect(file.models['openai.gpt-oss-120b-1:0']).toMatchObject({
      input: 0.16,
      output: 0.6,
      priorityPercent: 175,
      flexPercent: 50,
    });
    expect(file.models['google.gemma-3-27b-it']).toMatchObject({ input: 0.23, output: 0.38 });
    expect(conversion.unmappedModels).toEqual(['Frobnicator 9']);
    expect(conversion.missingOutputCeiling).toEqual(['acme.mystery-v1']);
    expect(conversion.skipped).toBe(2);
    // It loads like any prices file, and prices calls from it.
    const loaded = parsePricesFile(file);
    expect(loaded.prices['anthropic.claude-sonnet-4-6']?.inputPerMillion).toBe(330_000_000);
  });

  it('runs as the cycles-guard-prices CLI and writes a file createCycles loads', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'cycles-prices-cli-')), 'prices.json');
    const child = spawn(
      process.execPath,
      [
        '--conditions=@cycles-guard/source',
        '--import',
        'tsx',
        'src/prices/prices-cli.ts',
        '--region',
        'us-east-1',
        '--endpoint',
        url,
        '--date',
        '2026-12-06',
        '--out',
        out,
        '--map',
        'Gemma 3 27B IT=google.gemma-3-27b-it',
      ],
      {
        cwd: packageDir,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...process.env,
          AWS_ACCESS_KEY_ID: 'AKIDTEST',
          AWS_SECRET_ACCESS_KEY: 'test',
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        },
      },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const [code] = await once(child, 'exit');
    expect(stderr).toContain('3 models priced from 23 products');
    expect(stderr).toContain('no model id for: Frobnicator 9, Mystery 1');
    expect(code).toBe(0);
    const cycles = createCycles({ pricesFile: out });
    expect(cycles.catalog.version).toBe('aws-price-list-us-east-1-2026-12-06');
    expect(cycles.catalog.resolve('global.anthropic.claude-sonnet-4-6').rates.rates.inputPerMillion).toBe(
      300_000_000,
    );
    expect(
      cycles.catalog.resolve('openai.gpt-oss-120b-1:0', { serviceTier: 'flex' }).rates.rates.inputPerMillion,
    ).toBe(8_000_000);
  });

  it('sends the documented request shape through the real client', async () => {
    requests.length = 0;
    await pricingClient().send(
      new GetProductsCommand({ ServiceCode: 'AmazonBedrock', FormatVersion: 'aws_v1', MaxResults: 1 }),
    );
    expect(requests[0]?.target).toBe('AWSPriceListService.GetProducts');
  });
});
