import { connect } from 'node:net';
import { createMemoryLedger, type Ledger } from '@cycles-guard/core';
import { expect, it } from 'vitest';
import { startCyclesServer } from '../src/server.ts';
import { expectProtocolError } from './support/raw-http.ts';

// A request whose headers finish arriving after shutdown began gets the protocol's 503, not Fastify's.

it('answers a request that completes during shutdown with a protocol 503 and Connection: close', async () => {
  const inner = createMemoryLedger({ ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS', allocated: 100 }] });
  let entered: () => void = () => {};
  const reserveEntered = new Promise<void>((resolve) => {
    entered = resolve;
  });
  // A slow reserve keeps the server open while the second connection finishes its request.
  const slow: Ledger = Object.create(inner, {
    reserve: {
      value: async (...args: Parameters<Ledger['reserve']>) => {
        entered();
        await new Promise((resolve) => setTimeout(resolve, 500));
        return inner.reserve(...args);
      },
    },
  });
  const server = await startCyclesServer({
    port: 0,
    ledgerInstance: slow,
    apiKeys: { 'key-acme-0001': 'acme' },
    logLevel: 'silent',
  });
  // A connection with a request half sent is not idle, so close() leaves it open.
  const late = connect(Number(new URL(server.url).port), '127.0.0.1');
  const chunks: Buffer[] = [];
  late.on('data', (chunk) => chunks.push(chunk));
  const lateClosed = new Promise((resolve) => late.on('close', resolve));
  await new Promise((resolve) => late.on('connect', resolve));
  late.write('GET /v1/balances?tenant=acme HTTP/1.1\r\nHost: x\r\n');
  const inFlight = fetch(`${server.url}/v1/reservations`, {
    method: 'POST',
    headers: { 'X-Cycles-API-Key': 'key-acme-0001', 'Content-Type': 'application/json' },
    body: JSON.stringify({
      idempotency_key: 'k',
      subject: { tenant: 'acme' },
      action: { kind: 'k', name: 'n' },
      estimate: { unit: 'TOKENS', amount: 10 },
    }),
  });
  await reserveEntered;
  const closed = server.close();
  await new Promise((resolve) => setTimeout(resolve, 50));
  late.write('X-Cycles-API-Key: key-acme-0001\r\n\r\n');
  await lateClosed;
  const text = Buffer.concat(chunks).toString('utf8');
  const [head = '', body = ''] = text.split('\r\n\r\n');
  const headers = Object.fromEntries(
    head
      .split('\r\n')
      .slice(1)
      .map((line) => [
        line.slice(0, line.indexOf(':')).toLowerCase(),
        line.slice(line.indexOf(':') + 1).trim(),
      ]),
  );
  const error = expectProtocolError(
    { status: Number(head.split(' ')[1]), headers, text: body },
    503,
    'INTERNAL_ERROR',
  );
  expect(error.details).toEqual({ code: 'AUTHORITY_UNAVAILABLE' });
  expect(headers.connection).toBe('close');
  expect((await inFlight).status).toBe(200);
  await closed;
  await inner.close?.();
});
