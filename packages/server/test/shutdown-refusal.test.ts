import { connect } from 'node:net';
import { expect, it } from 'vitest';
import { expectProtocolError } from './support/raw-http.ts';
import { startSlowReserveServer } from './support/slow-reserve-server.ts';

// A request whose headers finish arriving after shutdown began gets the protocol's 503, not Fastify's.

it('answers a request that completes during shutdown with a protocol 503 and Connection: close', async () => {
  // A slow reserve keeps the server open while the second connection finishes its request.
  const { server, inner, reserveEntered, reserve } = await startSlowReserveServer('key-acme-0001', 500);
  // A connection with a request half sent is not idle, so close() leaves it open.
  const late = connect(Number(new URL(server.url).port), '127.0.0.1');
  const chunks: Buffer[] = [];
  late.on('data', (chunk) => chunks.push(chunk));
  const lateClosed = new Promise((resolve) => late.on('close', resolve));
  await new Promise((resolve) => late.on('connect', resolve));
  late.write('GET /v1/balances?tenant=acme HTTP/1.1\r\nHost: x\r\n');
  const inFlight = reserve();
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
