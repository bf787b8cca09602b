import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A loopback webhook endpoint that answers 204 and keeps every JSON body it receives, by request path. */
export interface RecordingReceiver {
  /** `http://127.0.0.1:<port>`: give each subscription its own path to tell their deliveries apart. */
  readonly base: string;
  close(): Promise<void>;
}

/** Starts a receiver that appends each body it is sent to `received` under its request path. */
export async function startRecordingReceiver<T>(received: Map<string, T[]>): Promise<RecordingReceiver> {
  const server = createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => {
      body += chunk;
    });
    request.on('end', () => {
      const list = received.get(request.url!) ?? [];
      list.push(JSON.parse(body) as T);
      received.set(request.url!, list);
      response.statusCode = 204;
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
