import { createHttpAuthority, InvalidRequestError } from '@cycles-guard/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CyclesServer, startCyclesServer } from '../src/server.ts';

// What the server's HTTP layer refuses reaches a `createHttpAuthority` caller as a typed
// InvalidRequestError naming the field, sent once (a 4xx is never retried), with no balance moved.

const API_KEY = 'acme-key-0001';
let server: CyclesServer;

beforeAll(async () => {
  server = await startCyclesServer({
    port: 0,
    apiKeys: { [API_KEY]: 'acme' },
    ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS', allocated: 10_000 }],
    logLevel: 'silent',
  });
});
afterAll(async () => {
  await server.close();
});

function nested(levels: number): unknown {
  let value: unknown = 'leaf';
  for (let level = 0; level < levels; level++) value = [value];
  return value;
}

describe('createHttpAuthority against the HTTP layer', () => {
  it.each([
    ['too deep', 400, 'metadata', { deep: nested(100) }],
    ['too large', 413, 'body', { blob: 'x'.repeat(70_000) }],
  ])(
    'metadata %s (HTTP %i) is InvalidRequestError naming %s, sent once',
    async (_label, status, field, metadata) => {
      let sent = 0;
      const authority = createHttpAuthority({
        baseUrl: server.url,
        apiKey: API_KEY,
        retries: 2,
        fetch: (input, init) => {
          sent++;
          return fetch(input, init);
        },
      });
      const before = await server.ledger.getLedger('tenant:acme', 'TOKENS');
      const error = await authority
        .reserve({
          idempotencyKey: `refused-${status}`,
          subject: { tenant: 'acme' },
          action: { kind: 'llm.completion', name: 'm' },
          estimate: { unit: 'TOKENS', amount: 10 },
          metadata,
        })
        .catch((caught: unknown) => caught);
      expect(InvalidRequestError.isInstance(error)).toBe(true);
      expect((error as InvalidRequestError).details?.field).toBe(field);
      expect(sent).toBe(1);
      expect(await server.ledger.getLedger('tenant:acme', 'TOKENS')).toEqual(before);
    },
  );
});
