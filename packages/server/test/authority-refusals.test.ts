import { createHttpAuthority, InvalidRequestError } from '@cycles-guard/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CyclesServer, startCyclesServer } from '../src/server.ts';

// What the server refuses at its HTTP edge (a body over its limit, a cursor it never issued) reaches a
// `createHttpAuthority` caller as one typed InvalidRequestError naming the field: sent once (a 4xx is
// never retried), no balance moved. The requests are valid for core's own checks, so they do reach it.

const API_KEY = 'acme-key-0001';
let server: CyclesServer;
let sent = 0;
const authority = () =>
  createHttpAuthority({
    baseUrl: server.url,
    apiKey: API_KEY,
    retries: 2,
    fetch: (input, init) => {
      sent++;
      return fetch(input, init);
    },
  });

beforeAll(async () => {
  server = await startCyclesServer({
    port: 0,
    apiKeys: { [API_KEY]: 'acme' },
    ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS', allocated: 10_000 }],
    bodyLimitBytes: 4096,
    logLevel: 'silent',
  });
});
afterAll(async () => {
  await server.close();
});

async function refusal(call: () => Promise<unknown>): Promise<{ field: unknown; sent: number }> {
  sent = 0;
  const error = await call().catch((caught: unknown) => caught);
  expect(InvalidRequestError.isInstance(error), String(error)).toBe(true);
  return { field: (error as InvalidRequestError).details?.field, sent };
}

describe('createHttpAuthority against the HTTP edge', () => {
  it('a body over the server limit (413) is InvalidRequestError naming body, sent once, nothing held', async () => {
    const before = await server.ledger.getLedger('tenant:acme', 'TOKENS');
    const outcome = await refusal(() =>
      authority().reserve({
        idempotencyKey: 'too-large',
        subject: { tenant: 'acme' },
        action: { kind: 'llm.completion', name: 'm' },
        estimate: { unit: 'TOKENS', amount: 10 },
        metadata: { blob: 'x'.repeat(5000) },
      }),
    );
    expect(outcome).toEqual({ field: 'body', sent: 1 });
    expect(await server.ledger.getLedger('tenant:acme', 'TOKENS')).toEqual(before);
  });

  it('a cursor the server never issued is InvalidRequestError naming cursor, sent once', async () => {
    expect(await refusal(() => authority().listReservations({ cursor: 'garbage' }))).toEqual({
      field: 'cursor',
      sent: 1,
    });
    expect(await refusal(() => authority().getBalances({ tenant: 'acme', cursor: 'garbage' }))).toEqual({
      field: 'cursor',
      sent: 1,
    });
  });
});
