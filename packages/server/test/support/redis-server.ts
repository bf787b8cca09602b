import { type RedisServer, startRedisServer } from '@cycles-guard/redis/testing';
import { afterAll, beforeAll } from 'vitest';

/** A real redis-server for one test file: started before its tests, removed after them. */
export function useRedisServer(): { readonly server: RedisServer } {
  let server: RedisServer | undefined;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server?.remove();
  });
  return {
    get server(): RedisServer {
      if (server === undefined) throw new Error('redis-server not started yet');
      return server;
    },
  };
}
