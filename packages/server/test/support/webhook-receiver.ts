import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request a receiver was sent, its body read whole. */
export interface Delivery {
  path: string;
  headers: IncomingHttpHeaders;
  /** The raw body bytes: what a signature is computed over. */
  raw: Buffer;
}

/** A loopback webhook endpoint. */
export interface WebhookReceiver {
  /** `http://127.0.0.1:<port>`: give each subscription its own path to tell their deliveries apart. */
  readonly base: string;
  close(): Promise<void>;
}

/**
 * Starts a receiver that hands each delivery to `answer` once its body has arrived, and answers with
 * the status `answer` returns (or resolves to, for a slow endpoint).
 */
export async function startWebhookReceiver(
  answer: (delivery: Delivery) => number | Promise<number>,
): Promise<WebhookReceiver> {
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', async () => {
      response.statusCode = await answer({
        path: request.url!,
        headers: request.headers,
        raw: Buffer.concat(chunks),
      });
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
