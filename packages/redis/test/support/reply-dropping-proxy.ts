import { connect, createServer, type Socket } from 'node:net';

/**
 * A TCP proxy in front of redis-server that can lose replies: while `dropping`, any reply coming back
 * from Redis is thrown away and the client's connection is cut, so a command runs on the server but
 * its caller never hears the answer (the "commit whose reply was lost" case).
 */
export interface ReplyDroppingProxy {
  url: string;
  dropping: boolean;
  /** Replies thrown away so far. */
  dropped: number;
  close(): Promise<void>;
}

export async function startReplyDroppingProxy(targetPort: number): Promise<ReplyDroppingProxy> {
  const sockets = new Set<Socket>();
  const proxy: ReplyDroppingProxy = {
    url: '',
    dropping: false,
    dropped: 0,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    client.on('data', (chunk) => upstream.write(chunk));
    upstream.on('data', (chunk) => {
      if (!proxy.dropping) {
        client.write(chunk);
        return;
      }
      proxy.dropped += 1;
      client.destroy();
      upstream.destroy();
    });
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', closeBoth);
    upstream.on('close', closeBoth);
    client.on('error', closeBoth);
    upstream.on('error', closeBoth);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  proxy.url = `redis://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
  return proxy;
}
