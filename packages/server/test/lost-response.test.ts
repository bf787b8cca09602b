import { createHttpAuthority } from '@cycles-guard/core';
import { afterEach, describe, expect, it } from 'vitest';
import { type CyclesServer, startCyclesServer } from '../src/server.ts';

// A response lost on the way back (the server applied the request) is retried by createHttpAuthority
// with the same idempotency key, and the server replays instead of applying it twice.

let server: CyclesServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A fetch that lets each listed path through to the server, then loses the first answer. */
function losingFirstAnswer(paths: RegExp[]): { fetch: typeof fetch; lost: string[] } {
  const lost: string[] = [];
  const wrapped: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    const path = new URL(String(input)).pathname;
    const rule = paths.find((pattern) => pattern.test(path));
    if (rule !== undefined && !lost.includes(rule.source)) {
      lost.push(rule.source);
      await response.arrayBuffer();
      throw new TypeError('fetch failed (reply lost)');
    }
    return response;
  };
  return { fetch: wrapped, lost };
}

describe('lost responses', () => {
  it('reserve, commit and event are each applied once although every first reply was lost', async () => {
    server = await startCyclesServer({
      port: 0,
      logLevel: 'silent',
      apiKeys: { 'lost-key-00001': 'acme' },
      ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS', allocated: 1000 }],
    });
    const transport = losingFirstAnswer([/\/v1\/reservations$/, /\/commit$/, /\/v1\/events$/]);
    const authority = createHttpAuthority({
      baseUrl: server.url,
      apiKey: 'lost-key-00001',
      fetch: transport.fetch,
    });
    const held = await authority.reserve({
      idempotencyKey: 'lost-reserve',
      subject: { tenant: 'acme' },
      action: { kind: 'llm.completion', name: 'm' },
      estimate: { unit: 'TOKENS', amount: 300 },
    });
    await authority.commit(held.reservationId as string, {
      idempotencyKey: 'lost-commit',
      actual: { unit: 'TOKENS', amount: 200 },
    });
    await authority.createEvent({
      idempotencyKey: 'lost-event',
      subject: { tenant: 'acme' },
      action: { kind: 'tool.call', name: 'search' },
      actual: { unit: 'TOKENS', amount: 50 },
    });
    expect(transport.lost).toHaveLength(3);
    expect(await server.ledger.getLedger('tenant:acme', 'TOKENS')).toMatchObject({
      spent: 250,
      reserved: 0,
      remaining: 750,
    });
    const listed = await server.ledger.listReservations({ tenant: 'acme' });
    expect(listed.reservations).toHaveLength(1);
  });

  it('reservation ids longer than the spec allows get 400 naming the field, not a router 404', async () => {
    server = await startCyclesServer({ port: 0, logLevel: 'silent', apiKeys: { 'lost-key-00001': 'acme' } });
    const response = await fetch(`${server.url}/v1/reservations/${'r'.repeat(129)}`, {
      headers: { 'X-Cycles-API-Key': 'lost-key-00001' },
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'INVALID_REQUEST' });
  });
});
